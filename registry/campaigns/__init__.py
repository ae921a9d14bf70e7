"""Data-update campaigns: one home visit per household in scope, run by the update_visit process."""
