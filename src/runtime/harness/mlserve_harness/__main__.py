"""Runs the harness: `python3 DIR ...`, where DIR is this package's directory
(as the process driver and images run it), or `python3 -m mlserve_harness ...`."""

import os
import sys

if not __package__:
    # Run as a directory, Python put the directory itself first on sys.path, where
    # the harness's modules would be importable by their bare names and could shadow
    # a predictor's own (`cli`, `worker`). Import the package from the directory above.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

from mlserve_harness.cli import main  # noqa: E402

sys.exit(main())
