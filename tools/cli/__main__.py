"""`lingua` / `python -m tools.cli`."""

from tools.cli.app import main

if __name__ == "__main__":
    main()
