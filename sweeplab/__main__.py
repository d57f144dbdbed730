from sweeplab.cli import run

run()
