"""Locust users for `bench_load`: support staff on the main pages, and a service on the REST API.

Run by benchmarks/bench_load.py in its own process (Locust patches the standard library with
gevent, so it never runs inside Django's processes), which hands it, in the environment, the
pages and API paths of a seeded portal (LOAD_PAGES, LOAD_API: JSON {name: path}), a support
login (LOAD_USERNAME, LOAD_PASSWORD), an API key (LOAD_API_KEY) and the wait between a user's
requests (LOAD_WAIT, "MIN-MAX" seconds). Any answer but a 200 is
an error, and so is a login that does not end on a portal page.
"""

import base64
import json
import os
import random

from locust import HttpUser, between, task

PAGES = json.loads(os.environ.get("LOAD_PAGES", "{}"))
API = json.loads(os.environ.get("LOAD_API", "{}"))
WAIT = between(*map(float, os.environ.get("LOAD_WAIT", "0.2-1.0").split("-")))


class SupportUser(HttpUser):
    """Signs in once, then opens the main pages in turn, as someone answering a ticket would."""

    weight = 3
    wait_time = WAIT

    def on_start(self):
        self.client.get("/accounts/login/", name="login page")
        token = self.client.cookies.get("csrftoken", "")
        form = {"username": os.environ["LOAD_USERNAME"], "password": os.environ["LOAD_PASSWORD"]}
        with self.client.post(
            "/accounts/login/", data={**form, "csrfmiddlewaretoken": token}, name="login", catch_response=True
        ) as response:
            if response.status_code != 200 or "/accounts/login/" in response.url:
                response.failure(f"login failed: HTTP {response.status_code} at {response.url}")

    @task
    def page(self):
        name, path = random.choice(list(PAGES.items()))
        self.client.get(path, name=name)


class ApiUser(HttpUser):
    """A service reading companies, connections, pull history and records through the API."""

    weight = 1
    wait_time = WAIT

    def on_start(self):
        key = os.environ["LOAD_API_KEY"]
        self.client.headers["Authorization"] = "Basic " + base64.b64encode(key.encode()).decode()

    @task
    def call(self):
        name, path = random.choice(list(API.items()))
        self.client.get(path, name=name)
