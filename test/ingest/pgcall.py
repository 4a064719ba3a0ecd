"""psql for the ingest tests: one script's SQL on stdin, its rows as '|'-separated lines."""
import subprocess


def psql_in(db, sql):
    out = subprocess.run(["psql", "-qXAt", "-v", "ON_ERROR_STOP=1", "-F", "|", "-d", db],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout
