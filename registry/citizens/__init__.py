"""Citizen accounts for the portal: sign-up with a code sent to the mobile, login, reset, and what they may see."""
