-- Parity and health, part 1: the lag_sketch type, a mergeable quantile sketch of lags in
-- seconds with a 1 % relative-error guarantee (DDSketch-like), its aggregates and functions.

CREATE TYPE channel_sync.lag_sketch;

CREATE FUNCTION channel_sync._lag_sketch_in(cstring) RETURNS channel_sync.lag_sketch
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_in';
CREATE FUNCTION channel_sync._lag_sketch_out(channel_sync.lag_sketch) RETURNS cstring
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_out';
CREATE FUNCTION channel_sync._lag_sketch_recv(internal) RETURNS channel_sync.lag_sketch
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_recv';
CREATE FUNCTION channel_sync._lag_sketch_send(channel_sync.lag_sketch) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_send';

CREATE TYPE channel_sync.lag_sketch (
  INPUT = channel_sync._lag_sketch_in,
  OUTPUT = channel_sync._lag_sketch_out,
  RECEIVE = channel_sync._lag_sketch_recv,
  SEND = channel_sync._lag_sketch_send,
  INTERNALLENGTH = VARIABLE,
  STORAGE = extended
);
COMMENT ON TYPE channel_sync.lag_sketch IS
  'Mergeable quantile sketch of lags in seconds (DDSketch-like): quantiles within 1 % of the true value for lags from 1 ms to 30 days; <= 0 counts as 0, below 1 ms within 1 ms, above 30 days reported as >= 30 days; at most 4 kB. Text form: v=1 count=N zeros=N under=N over=N min=X max=X bins=INDEX:COUNT,...';
COMMENT ON FUNCTION channel_sync._lag_sketch_in(cstring) IS 'Internal: lag_sketch text input (versioned; malformed text raises 22P02).';
COMMENT ON FUNCTION channel_sync._lag_sketch_out(channel_sync.lag_sketch) IS 'Internal: lag_sketch text output.';
COMMENT ON FUNCTION channel_sync._lag_sketch_recv(internal) IS 'Internal: lag_sketch binary input (version byte, flags byte; malformed input raises 22P03).';
COMMENT ON FUNCTION channel_sync._lag_sketch_send(channel_sync.lag_sketch) IS 'Internal: lag_sketch binary output.';

-- aggregate support
CREATE FUNCTION channel_sync._lag_sketch_add_interval(internal, interval) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_add_interval';
CREATE FUNCTION channel_sync._lag_sketch_add_float8(internal, double precision) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_add_float8';
CREATE FUNCTION channel_sync._lag_sketch_add_sketch(internal, channel_sync.lag_sketch) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_add_sketch';
CREATE FUNCTION channel_sync._lag_sketch_combine(internal, internal) RETURNS internal
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_combine';
CREATE FUNCTION channel_sync._lag_sketch_serialize(internal) RETURNS bytea
  LANGUAGE c STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_serialize';
CREATE FUNCTION channel_sync._lag_sketch_deserialize(bytea, internal) RETURNS internal
  LANGUAGE c STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_deserialize';
CREATE FUNCTION channel_sync._lag_sketch_final(internal) RETURNS channel_sync.lag_sketch
  LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', '_lag_sketch_final';
COMMENT ON FUNCTION channel_sync._lag_sketch_add_interval(internal, interval) IS 'Internal: lag_sketch(interval) transition (interval converted to seconds as EXTRACT(EPOCH) does).';
COMMENT ON FUNCTION channel_sync._lag_sketch_add_float8(internal, double precision) IS 'Internal: lag_sketch(double precision) transition (seconds).';
COMMENT ON FUNCTION channel_sync._lag_sketch_add_sketch(internal, channel_sync.lag_sketch) IS 'Internal: lag_sketch(lag_sketch) transition (merge).';
COMMENT ON FUNCTION channel_sync._lag_sketch_combine(internal, internal) IS 'Internal: merges two partial lag_sketch states (parallel aggregation).';
COMMENT ON FUNCTION channel_sync._lag_sketch_serialize(internal) IS 'Internal: lag_sketch state to bytea (parallel aggregation).';
COMMENT ON FUNCTION channel_sync._lag_sketch_deserialize(bytea, internal) IS 'Internal: lag_sketch state from bytea, validated (parallel aggregation).';
COMMENT ON FUNCTION channel_sync._lag_sketch_final(internal) IS 'Internal: lag_sketch aggregate result.';

CREATE AGGREGATE channel_sync.lag_sketch(interval) (
  SFUNC = channel_sync._lag_sketch_add_interval, STYPE = internal, SSPACE = 8760,
  FINALFUNC = channel_sync._lag_sketch_final, COMBINEFUNC = channel_sync._lag_sketch_combine,
  SERIALFUNC = channel_sync._lag_sketch_serialize, DESERIALFUNC = channel_sync._lag_sketch_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE channel_sync.lag_sketch(double precision) (
  SFUNC = channel_sync._lag_sketch_add_float8, STYPE = internal, SSPACE = 8760,
  FINALFUNC = channel_sync._lag_sketch_final, COMBINEFUNC = channel_sync._lag_sketch_combine,
  SERIALFUNC = channel_sync._lag_sketch_serialize, DESERIALFUNC = channel_sync._lag_sketch_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE channel_sync.lag_sketch(channel_sync.lag_sketch) (
  SFUNC = channel_sync._lag_sketch_add_sketch, STYPE = internal, SSPACE = 8760,
  FINALFUNC = channel_sync._lag_sketch_final, COMBINEFUNC = channel_sync._lag_sketch_combine,
  SERIALFUNC = channel_sync._lag_sketch_serialize, DESERIALFUNC = channel_sync._lag_sketch_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE channel_sync.lag_sketch(interval) IS 'Sketch of lags given as intervals (converted to seconds like EXTRACT(EPOCH FROM ...)); NULLs are skipped; NULL when no row.';
COMMENT ON AGGREGATE channel_sync.lag_sketch(double precision) IS 'Sketch of lags in seconds; NULLs are skipped; NaN/Infinity raise 22023; NULL when no row.';
COMMENT ON AGGREGATE channel_sync.lag_sketch(channel_sync.lag_sketch) IS 'Merges sketches (rollups: hourly sketches into a day, channels into a total); the result equals the sketch of all their values.';

CREATE FUNCTION channel_sync.quantile(sketch channel_sync.lag_sketch, q double precision) RETURNS double precision
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'lag_sketch_quantile';
COMMENT ON FUNCTION channel_sync.quantile(channel_sync.lag_sketch, double precision) IS
  'The q-quantile (0 <= q <= 1) of the sketch, in seconds, within 1 % of the exact order statistic of rank q*(n-1); q = 0 and 1 give the exact min and max; NULL for an empty sketch; q outside [0,1] raises 22003.';

CREATE FUNCTION channel_sync.quantiles(sketch channel_sync.lag_sketch, qs double precision[]) RETURNS double precision[]
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'lag_sketch_quantiles';
COMMENT ON FUNCTION channel_sync.quantiles(channel_sync.lag_sketch, double precision[]) IS
  'quantile() for each element of qs, in seconds, same array shape; a NULL element raises 22004; NULL for an empty sketch.';

CREATE FUNCTION channel_sync.sketch_count(sketch channel_sync.lag_sketch) RETURNS bigint
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'lag_sketch_count';
COMMENT ON FUNCTION channel_sync.sketch_count(channel_sync.lag_sketch) IS 'How many values the sketch holds.';
