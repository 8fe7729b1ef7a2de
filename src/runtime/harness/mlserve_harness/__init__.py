"""mlserve replica harness: serves one Cortex-style Python predictor over HTTP/1.1.

Standard library only; runs on Python 3.9-3.13. The mlserve process driver
runs this directory once per replica, and `mlserve build` copies the same
directory into images (CMD / HEALTHCHECK). docs/replica-contract.md is the
contract.

    python3 mlserve_harness serve --host 127.0.0.1 --port 0 --processes P --threads T \\
        --project-dir DIR --predictor predictor.py [--config-json JSON] \\
        [--batch-max-size N --batch-interval-ms MS] [--events-fd 3] \\
        [--keepalive-s 5] [--max-body-bytes N] [--name API_NAME]
    python3 mlserve_harness check --status-file PATH
    python3 mlserve_harness launch --parent-pid PID -- COMMAND [ARG...]

Process model: a master (supervisor.py) binds the listening socket, forks P
worker processes (worker.py; each imports and constructs its own predictor
after the fork, predictor.py) and supervises them. Each worker runs T threads
(http1.py); a thread owns one connection at a time and serves its requests in
order, so P x T requests run at once and further connections wait in the
kernel backlog. payloads.py turns bodies into payloads and results into
answers; batcher.py is server-side batching; cli.py the command line;
launch.py keeps command-kind servers from outliving mlserve; system.py holds
the operating-system pieces they share.
"""
