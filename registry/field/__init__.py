"""Field work without a connection: visits downloaded to a phone, completed offline and sent later."""
