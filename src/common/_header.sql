\echo Use "CREATE EXTENSION channel_sync" to load this file. \quit
