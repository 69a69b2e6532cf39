"""``python -m aggregator``."""

from aggregator.cli.main import main

if __name__ == "__main__":  # parser processes import this module again; they must not run the CLI
    main(prog_name="aggregator")
