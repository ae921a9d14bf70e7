"""Reports and dashboards: figures per directorate over the task index, cases, audit events and scores."""
