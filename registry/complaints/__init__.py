"""Complaints (grievance redress): filing, the complaints process, following a complaint, and who may handle it."""
