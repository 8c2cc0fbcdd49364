"""``snacks``: placeholder replaced by the CLI."""


def main() -> int:
    return 0
