#!/usr/bin/env bash
# The charts pass whole commands as container args: the Airflow chart `bash -c "exec airflow ..."`
# or `airflow db check-migrations`, the executors `python -m ...` / `airflow tasks run ...`, the Dagster
# chart `dagster api grpc ...` and its launchers `dagster api execute_run|execute_step ...`.
# Run what is given; a bare Airflow subcommand (`scheduler`, `version`) gets `airflow` in front,
# as in the official Airflow image.
set -euo pipefail
if [[ $# -eq 0 ]]; then
    exec bash
fi
if command -v -- "$1" >/dev/null 2>&1; then
    exec "$@"
fi
exec airflow "$@"
