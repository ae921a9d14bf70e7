"""Reports and dashboards: the directorate and ministry dashboards, their exports and the monthly PDF."""
