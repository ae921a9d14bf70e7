"""Referrals of a plan's interventions to the partner organisations that deliver them."""
