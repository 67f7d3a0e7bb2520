"""A small foreground supervisor for `runportal`: start children, prefix their output,
stop them all together.

Each child runs in its own session (process group), so a Ctrl-C at the terminal reaches
only the supervisor, which then stops the children one by one, newest first: SIGTERM to
the child, a bounded wait, then SIGKILL to its whole group so no grandchild (gunicorn or
qcluster workers) outlives it.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time


class ChildFailed(Exception):
    """A child exited while the portal was meant to be running, or never came up."""


class Supervisor:
    """Children are essential (one exits: everything stops) or optional equipment, such as
    the demo sandbox: one of those that exits is reported and started again, and the rest
    keep running."""

    def __init__(self, out=None, stop_timeout=15.0, restart_delay=1.0, max_restarts=5):
        self.out = out or sys.stdout
        self.stop_timeout = stop_timeout
        self.restart_delay = restart_delay
        self.max_restarts = max_restarts  # an optional child that keeps dying is given up on
        self.children = []  # [(name, Popen)] in start order
        self._optional = {}  # name -> (argv, cwd, env), to start it again
        self._restarts = {}  # name -> how many times it was started again
        self._given_up = set()
        self._lock = threading.Lock()
        self._width = 7

    def say(self, line, name="portal"):
        with self._lock:
            self.out.write(f"{name:<{self._width}} | {line}\n")
            self.out.flush()

    def start(self, name, argv, *, cwd=None, env=None, optional=False):
        if optional:
            self._optional[name] = (argv, cwd, env)
        self._width = max(self._width, len(name))
        child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.children.append((name, process))
        threading.Thread(target=self._forward, args=(name, process), daemon=True).start()
        self.say(f"started {name} (pid {process.pid}): {' '.join(str(a) for a in argv[1:])}")
        return process

    def _forward(self, name, process):
        for line in process.stdout:
            self.say(line.rstrip("\n"), name)

    def wait_for_port(self, name, process, host, port, timeout=60.0):
        """Return once something accepts TCP connections on host:port; fail if the child dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ChildFailed(f"The {name} process exited with code {process.returncode} before it was ready.")
            if port_open(host, port):
                return
            time.sleep(0.2)
        raise ChildFailed(f"The {name} process did not answer on {host}:{port} within {timeout:.0f} seconds.")

    def watch(self, poll=0.3):
        """Block while every essential child runs; raise ChildFailed when one exits.

        An optional child that exits is started again, up to `max_restarts` times, while
        the others keep running."""
        while True:
            for name, process in list(self.children):
                if process.poll() is None or name in self._given_up:
                    continue
                if name not in self._optional:
                    raise ChildFailed(f"The {name} process exited with code {process.returncode}.")
                self._restart(name, process)
            time.sleep(poll)

    def _restart(self, name, process):
        argv, cwd, env = self._optional[name]
        index = self.children.index((name, process))
        restarts = self._restarts.get(name, 0)
        if restarts >= self.max_restarts:
            self._given_up.add(name)
            self.say(f"{name} stopped {restarts + 1} times (exit code {process.returncode}); not starting it again.")
            return
        self._restarts[name] = restarts + 1
        self.say(f"{name} stopped (exit code {process.returncode}); the rest keeps running. Starting it again.")
        time.sleep(self.restart_delay)
        self.start(name, argv, cwd=cwd, env=env, optional=True)
        self.children.insert(index, self.children.pop())  # keep start order: it stops last, as before

    def stop_all(self):
        """Stop the children one by one, newest first: SIGTERM, a bounded wait, then SIGKILL for the group.

        One at a time, so what started first (the sandbox) still answers while the worker
        finishes the pull it is running.
        """
        for name, process in reversed(self.children):
            if process.poll() is None:
                self.say(f"stopping {name} (pid {process.pid})")
                _signal_group(process, signal.SIGTERM, whole_group=False)
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self.say(f"{name} did not stop within {self.stop_timeout:.0f} s; killing it")
            # Whatever is left in the child's group (workers of a stopped master) goes too.
            _signal_group(process, signal.SIGKILL, whole_group=True)
            process.wait()
        self.children = []


class PrefixedWriter:
    """A file-like object that sends each line through `Supervisor.say` (for in-process steps)."""

    def __init__(self, supervisor, name):
        self.supervisor, self.name, self._partial = supervisor, name, ""

    def write(self, text):
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.supervisor.say(line, self.name)
        return len(text)

    def flush(self):
        if self._partial:
            self.supervisor.say(self._partial, self.name)
            self._partial = ""

    def isatty(self):
        return False


def _signal_group(process, sig, whole_group):
    try:
        if whole_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def port_open(host, port) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
