"""User-facing errors: one line that names the problem and the fix, exit code 2."""


class TaskseedError(Exception):
    """Bad input or environment. The CLI prints `error: <message>` and exits with code 2."""

    exit_code = 2


class FirewallError(TaskseedError):
    """A seed request that would leak evaluation data. Never downgraded to a warning."""

    def __init__(self, rule: str, message: str):
        self.rule = rule
        super().__init__(f"split firewall [{rule}]: {message}")
