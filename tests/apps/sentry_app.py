"""An app with the real sentry-sdk: raises two different exceptions three times each, each
with its own request id and user, and reports them to the DSN given.

    python sentry_app.py DSN RELEASE [ROUNDS [REQUEST_PREFIX]]

Request ids are REQUEST_PREFIX-<exception>-<round> (REQUEST_PREFIX: req).
"""

import sys

import sentry_sdk


def apply_discount(cart: dict) -> float:
    return cart["total"] / cart["items"]          # ZeroDivisionError on an empty cart


def load_customer(customers: dict, cid: str) -> dict:
    return customers[cid]                          # KeyError for an unknown customer


def main() -> int:
    dsn, release = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    prefix = sys.argv[4] if len(sys.argv) > 4 else "req"
    sentry_sdk.init(dsn=dsn, release=release, environment="test", default_integrations=False)
    for i in range(rounds):
        for name, fail in (("discount", lambda: apply_discount({"total": 10.0, "items": 0})),
                           ("customer", lambda: load_customer({}, f"c-{i}"))):
            with sentry_sdk.new_scope() as scope:
                scope.set_tag("request_id", f"{prefix}-{name}-{i}")
                scope.set_user({"id": f"user-{i}"})
                sentry_sdk.add_breadcrumb(category="query", message=f"loading {name}")
                try:
                    fail()
                except Exception as e:
                    sentry_sdk.capture_exception(e)
    sentry_sdk.flush(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
