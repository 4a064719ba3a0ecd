-- The notify-mode GUCs: values, validation, who may set them. (Batched mode itself needs
-- shared_preload_libraries: test/notifier runs it on a preloaded cluster of its own.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS channel_sync CASCADE;
CREATE EXTENSION channel_sync;
RESET client_min_messages;
\set SHOW_CONTEXT never
-- the GUCs exist once the library is loaded (the first channel_sync function call, or the preload)
LOAD 'channel_sync';
SHOW channel_sync.notify_mode;
SHOW channel_sync.notify_interval;
-- this cluster does not preload channel_sync: batched mode would notify in the transaction
SHOW channel_sync.batched_notifier_available;
SET channel_sync.batched_notifier_available = on;
SET channel_sync.notify_mode = 'sometimes';
SET channel_sync.notify_mode = batched;
SHOW channel_sync.notify_mode;
RESET channel_sync.notify_mode;
SHOW channel_sync.notify_mode;
-- the worker's pacing is a server setting (postgresql.conf, then a reload)
SET channel_sync.notify_interval = '5ms';
SELECT name, setting, unit, context, vartype, min_val, max_val, enumvals
  FROM pg_catalog.pg_settings WHERE name LIKE 'channel_sync.%notif%' ORDER BY name;
-- any role may choose the mode of its own sessions
CREATE ROLE regress_cs_notify_probe LOGIN;
SET ROLE regress_cs_notify_probe;
SET channel_sync.notify_mode = batched;
SHOW channel_sync.notify_mode;
RESET ROLE;
DROP ROLE regress_cs_notify_probe;
-- notifier_status(): nothing to show without the preload (test/notifier checks it with one)
SELECT count(*) AS databases_served FROM channel_sync.notifier_status();
SELECT pg_catalog.has_function_privilege('channel_sync_reader', 'channel_sync.notifier_status()', 'EXECUTE') AS reader,
       pg_catalog.has_function_privilege('channel_sync_connector', 'channel_sync.notifier_status()', 'EXECUTE') AS connector;
