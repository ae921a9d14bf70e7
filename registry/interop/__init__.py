"""The SPDCI Social Registry API v1.0.0: partner systems ask the registry who is registered and how poor.

Endpoints (webui/spdci.py, JSON only, under ``/spdci``; all ``POST`` but the public key):

- ``/oauth2/token``: OAuth2 client credentials (form or JSON ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``, or HTTP Basic) → ``{"access_token", "token_type": "Bearer", "expires_in", "scope"}``.
  Tokens live an hour and are kept hashed in the database (any server accepts them). Wrong credentials: 401
  ``{"error": "invalid_client"}``.
- ``/registry/sync/search``: the standard's search envelope, answered at once (header action ``on-search``,
  message ``SearchResponse``).
- ``/registry/search``: answered ``ACK``; the worker then posts the same answer to ``{callback}/registry/on-search``.
- ``/registry/subscribe`` and ``/registry/unsubscribe``: ``ACK``, then ``{callback}/registry/on-subscribe`` or
  ``on-unsubscribe``; each later event is posted to ``{callback}/registry/notify``.
- ``GET /.well-known/registry-public-key.pem``: the key that checks our signatures (404 when we sign nothing).
- ``/registry/sync/txn/status`` and ``/registry/txn/status`` (callback ``{callback}/registry/txn/on-status``):
  the answer an earlier search or subscription got, by ``transaction_id``, ``correlation_id`` or
  ``reference_id_list``; only the client's own transactions.

Envelope and answers (registry.interop.envelope): ``header`` must carry version 1.0.0, ``message_id``,
``message_ts`` (ISO 8601 with zone), the endpoint's ``action``, ``sender_id`` = the client id, ``total_count``;
``receiver_id``, when given, is ``INTEROP_REGISTRY_ID`` (default ``mosd-social-registry``). A refused envelope
gets ``{"message": {"ack_status": "ERR", "error": {"code": "err...."}, ...}}``: 400 (``err.request.bad``,
``err.version.not_supported``, ``err.sender_id.invalid``, ``err.receiver_id.invalid``, ``err.sender_uri.invalid``,
``err.encryption.invalid``, a repeated ``message_id``), 401 (``err.signature.missing`` / ``invalid``), 503
(``err.service.unavailable``, never a bare 500). No or a dead token: 401 ``{"errors": [{"code":
"err.request.unauthorized"}]}``; an endpoint outside the client's scopes: 403 ``err.request.forbidden``; over its
rate limit (``INTEROP_RATE_LIMIT``, default 120/minute per client, counted in ``RATELIMIT_STORAGE_URI``): 429
``err.request.too_many_requests``. A search the client may not make is answered per request with status
``rjct`` and the standard's reason (``rjct.search_criteria.invalid``, ``rjct.sort.invalid``,
``rjct.pagination.invalid``, ...), never with data.

Clients (registry.interop.models.InteropClient; ``flask --app app interop client add ID --name ... --scope ...
--field ... [--callback-url URL] [--public-key PEM] [--partner CODE]`` prints the secret once; administrators
also manage them at ``/admin/interop-clients/``, registry.administration.interop_clients, each change audited):

- scopes: ``search`` (both searches), ``subscribe`` (subscribe and unsubscribe), ``txn_status``;
- field groups (registry.interop.records.FIELD_GROUPS): what records carry and what may be searched and sorted
  on, e.g. a cash-transfer programme gets identifiers, names, demographics, members, location,
  eligibility_category, programme (not poverty_score, indicators, contact, disability);
- ``partner``: a referral partner sees only households with a case referred to its organisation;
- ``public_key`` (Ed25519 or RSA PEM): its envelopes must be signed (the signed text is in envelope.py);
- callbacks go to the registered callback URL; a header ``sender_uri`` is used when it lies under it;
  ``callback_token`` (``interop client callback-token ID``) is sent with them as ``Authorization: Bearer``.

What we send (sync answers, callbacks, notifications) is signed as envelope.py describes when
``INTEROP_SIGNING_KEY_FILE`` names our private key (Settings.signing_key); callbacks are signed when posted.

Who is visible: only households whose ``consent_data_exchange`` is true (the consent recorded at registration);
a household without it is never found, counted nor notified, as if it were not registered.

Queries (registry.interop.queries): ``idtype-value`` (``UIN``, ``HOUSEHOLD_ID``, ``MOBILE``), ``expression``
(``{"$and": [{"poverty_score": {"$lt": 0.4}}]}``) and ``predicate`` (``age lt 25``); ``response_entity`` Group
(households) or Member (people); ``pagination`` (``page_size`` 1 to 100, ``page_number`` from 1) and ``sort``.

Events (registry.interop.events): ``REGISTER`` (a household registered), ``NewHouseHoldMember`` (members added to a
registered household), ``UPDATE`` (our extension: the eligibility category changed), written in the transaction
that made them; the worker (registry.worker.run_once → registry.interop.delivery) sends notifications and
callbacks, retrying failures after 30 s, 1, 2, 4 ... minutes (at most an hour apart, 8 attempts). A
subscription's ``frequency`` (the standard's cron, registry.interop.schedule) gathers its notifications
between its start and end time into one sent at the cron's next time.
Every request, refused or not, is kept in ``interop_requests`` (client, action, query summary, outcome, when).
"""
