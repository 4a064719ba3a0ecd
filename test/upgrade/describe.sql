-- Every object of the channel_sync extension, one line per property, in a stable order and
-- without OIDs, so two databases can be compared with diff. Run with psql -AtX -F ' | '.
-- Members come from pg_depend (deptype 'e'); for each: its definition (functions, views,
-- types, aggregates, operators, casts), table columns, constraints, indexes, triggers with
-- tgenabled, row-level security and policies, ACLs (sorted), comments, extension config.
\set QUIET on
SET search_path = pg_catalog;
SET lc_messages = 'C';

WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'channel_sync'),
members AS (
  SELECT d.classid, d.objid, d.objsubid,
         pg_describe_object(d.classid, d.objid, d.objsubid) AS obj
    FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (
  SELECT m.obj, c.* FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid),
procs AS (
  SELECT m.obj, p.* FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid)
SELECT obj, prop, val FROM (
  -- extension itself
  SELECT 'extension channel_sync' AS obj, 'version' AS prop, extversion AS val FROM ext
  UNION ALL
  SELECT 'extension channel_sync', 'config', array_to_string(ARRAY(
           SELECT c::regclass::text || coalesce(' ' || nullif(w, ''), '')
             FROM unnest(extconfig, extcondition) AS u(c, w) ORDER BY 1), ', ') FROM ext
  UNION ALL
  SELECT 'extension channel_sync', 'relocatable/schema', extrelocatable::text || ' ' || extnamespace::regnamespace::text FROM ext
  UNION ALL
  -- membership
  SELECT obj, 'member', classid::regclass::text FROM members
  UNION ALL
  SELECT obj, 'comment', obj_description(objid, classid::regclass::name) FROM members
   WHERE obj_description(objid, classid::regclass::name) IS NOT NULL
  UNION ALL
  -- functions and procedures (aggregates: their support functions and options)
  SELECT obj, 'definition', pg_get_functiondef(oid) FROM procs WHERE prokind IN ('f', 'p')
  UNION ALL
  SELECT p.obj, 'aggregate', concat_ws(' ', a.aggkind, a.aggtransfn::regproc, a.aggfinalfn::regproc,
           a.aggcombinefn::regproc, a.aggserialfn::regproc, a.aggdeserialfn::regproc,
           a.aggtranstype::regtype, a.agginitval, p.proparallel, a.aggfinalmodify)
    FROM procs p JOIN pg_aggregate a ON a.aggfnoid = p.oid
  UNION ALL
  SELECT obj, 'properties', concat_ws(' ', prokind, provolatile, proparallel, prosecdef, proleakproof,
           proisstrict, pg_get_function_identity_arguments(oid), prorettype::regtype, proconfig::text)
    FROM procs
  UNION ALL
  SELECT obj, 'acl', array_to_string(ARRAY(SELECT x::text FROM unnest(proacl) x ORDER BY 1), ',') FROM procs
  UNION ALL
  -- relations
  SELECT obj, 'relkind/rls', concat_ws(' ', relkind, relpersistence, relrowsecurity, relforcerowsecurity,
           reloptions::text, relreplident) FROM rels
  UNION ALL
  SELECT obj, 'acl', array_to_string(ARRAY(SELECT x::text FROM unnest(relacl) x ORDER BY 1), ',') FROM rels
  UNION ALL
  SELECT obj, 'view', pg_get_viewdef(oid) FROM rels WHERE relkind IN ('v', 'm')
  UNION ALL
  SELECT r.obj, 'columns', string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attnotnull THEN 'not null' END, a.attidentity, a.attgenerated,
           'default ' || pg_get_expr(ad.adbin, ad.adrelid), 'collate ' || nullif(a.attcollation, 0)::regcollation::text,
           'comment ' || col_description(r.oid, a.attnum),
           'acl ' || array_to_string(ARRAY(SELECT x::text FROM unnest(a.attacl) x ORDER BY 1), ',')),
           E'\n' ORDER BY a.attnum)
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
   GROUP BY r.obj
  UNION ALL
  SELECT r.obj, 'constraint ' || c.conname, pg_get_constraintdef(c.oid) ||
         coalesce(' -- ' || obj_description(c.oid, 'pg_constraint'), '')
    FROM rels r JOIN pg_constraint c ON c.conrelid = r.oid
  UNION ALL
  SELECT r.obj, 'index ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) ||
         coalesce(' -- ' || obj_description(i.indexrelid, 'pg_class'), '')
    FROM rels r JOIN pg_index i ON i.indrelid = r.oid
  UNION ALL
  SELECT r.obj, 'trigger ' || t.tgname, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text ||
         coalesce(' -- ' || obj_description(t.oid, 'pg_trigger'), '')
    FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
  UNION ALL
  SELECT r.obj, 'policy ' || p.polname, concat_ws(' ', p.polcmd, p.polpermissive,
           ARRAY(SELECT CASE WHEN x = 0 THEN 'public' ELSE x::regrole::text END FROM unnest(p.polroles) x ORDER BY 1)::text,
           'using ' || pg_get_expr(p.polqual, p.polrelid), 'check ' || pg_get_expr(p.polwithcheck, p.polrelid))
    FROM rels r JOIN pg_policy p ON p.polrelid = r.oid
  UNION ALL
  SELECT r.obj, 'rule ' || rw.rulename, pg_get_ruledef(rw.oid)
    FROM rels r JOIN pg_rewrite rw ON rw.ev_class = r.oid AND rw.rulename <> '_RETURN'
  UNION ALL
  SELECT r.obj, 'sequence', concat_ws(' ', s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcycle)
    FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid
  UNION ALL
  -- types
  SELECT m.obj, 'type', concat_ws(' ', t.typtype, t.typlen, t.typbyval, t.typalign, t.typstorage,
           t.typinput::regproc, t.typoutput::regproc, t.typreceive::regproc, t.typsend::regproc,
           t.typcategory, t.typdefault,
           (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
           pg_get_constraintdef((SELECT c.oid FROM pg_constraint c WHERE c.contypid = t.oid LIMIT 1)))
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  UNION ALL
  SELECT m.obj, 'acl', array_to_string(ARRAY(SELECT x::text FROM unnest(t.typacl) x ORDER BY 1), ',')
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
  UNION ALL
  -- operators and casts
  SELECT m.obj, 'operator', concat_ws(' ', o.oprcode::regproc, o.oprleft::regtype, o.oprright::regtype,
           o.oprresult::regtype, o.oprcom::regoperator, o.oprnegate::regoperator, o.oprrest::regproc, o.oprjoin::regproc)
    FROM members m JOIN pg_operator o ON m.classid = 'pg_operator'::regclass AND o.oid = m.objid
  UNION ALL
  SELECT m.obj, 'cast', concat_ws(' ', c.castfunc::regprocedure, c.castcontext, c.castmethod)
    FROM members m JOIN pg_cast c ON m.classid = 'pg_cast'::regclass AND c.oid = m.objid
  UNION ALL
  -- the schema
  SELECT m.obj, 'acl', array_to_string(ARRAY(SELECT x::text FROM unnest(n.nspacl) x ORDER BY 1), ',')
    FROM members m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
) AS all_props
ORDER BY obj, prop, val;

-- the rows the install script puts in configuration tables (e.g. default health bands)
SELECT format('SELECT %L, ''rows'', count(*) || '' '' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), '''') FROM %s t',
              'table ' || c::regclass::text, c::regclass)
  FROM pg_extension e, unnest(e.extconfig) AS c
 WHERE e.extname = 'channel_sync' AND (SELECT relkind FROM pg_class WHERE oid = c) = 'r'
 ORDER BY 1 \gexec
