"""Failed sign-ins counted per account and per client address, refused for a while past a
budget: a password (or a device code) cannot be guessed faster than the budget allows.

Only failures count, so an honest user who types their password right is never slowed; a
success clears the account's count. Counts live in memory: a restart forgets them, which
costs an attacker a restart they cannot cause.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from maxlocal.errors import TooManyRequests

ACCOUNT_BUDGET = 10  # failures per account ...
ADDRESS_BUDGET = 30  # ... and per client address ...
WINDOW_S = 300.0  # ... in any five minutes


class Window:
    """At most ``budget`` failures per key in any ``window`` seconds."""

    def __init__(
        self, budget: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget, self.window, self.clock = budget, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            times = self._recent(key)
            if len(times) < self.budget:
                return 0.0
            return max(times[0] + self.window - self.clock(), 0.0)

    def failed(self, key: str) -> None:
        with self._lock:
            times = self._recent(key)
            times.append(self.clock())
            self._failures[key] = times

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times


class SignInThrottle:
    """The sign-in budget of an account and of the address a request came from."""

    def __init__(
        self,
        account_budget: int = ACCOUNT_BUDGET,
        address_budget: int = ADDRESS_BUDGET,
        window: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = Window(account_budget, window, clock)
        self.addresses = Window(address_budget, window, clock)

    def check(self, account: str, address: str | None) -> None:
        """``TooManyRequests`` (with its Retry-After) when either budget is spent."""
        wait = self.accounts.wait(account)
        whose = "this account"
        if address is not None and (by_address := self.addresses.wait(address)) > wait:
            wait, whose = by_address, "this address"
        if wait > 0:
            seconds = math.ceil(wait)
            raise TooManyRequests(
                f"too many failed sign-ins for {whose}; try again in {seconds} s",
                "wait, then sign in again (the platform counts failed attempts)",
                retry_after=seconds,
            )

    def failed(self, account: str, address: str | None) -> None:
        self.accounts.failed(account)
        if address is not None:
            self.addresses.failed(address)

    def succeeded(self, account: str) -> None:
        self.accounts.clear(account)
