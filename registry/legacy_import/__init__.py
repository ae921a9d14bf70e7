"""Importing the existing beneficiaries from the old system's export (CSV or XLSX, one row per person)."""
