"""Steps several browser tests share: watching a page for errors, logging in."""


def watch_problems(page) -> list[str]:
    """A list that collects every page error and console error (a CSP violation included)
    from now on; the browser's own /favicon.ico request is not the page's concern."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.location.get("url", "").endswith("/favicon.ico")
            and problems.append(f"{page.url}: {message.text}")
        ),
    )
    return problems


def log_in(page, username: str) -> None:
    """Log in through the login form as ``username`` (password ``pw-<username>``)."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My sprints").wait_for()
