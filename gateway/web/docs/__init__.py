"""The API's browsable docs at /api/docs: Swagger UI served by the gateway itself.

The page is public, so it loads nothing from a CDN (a compromised CDN would run its script
on our origin): the Swagger UI files come from the flask-swagger-ui package, pinned in
pyproject.toml, and the page starts them from a file of ours, under a CSP of 'self'.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Flask, Response, render_template, send_from_directory

PREFIX = "/api/docs"
SWAGGER_UI = str(files("flask_swagger_ui") / "dist")
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

bp = Blueprint("docs", __name__, url_prefix=PREFIX, template_folder="templates")

POLICY = (
    # Swagger UI sets style attributes from script, hence 'unsafe-inline' for styles only
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """Serve the docs page and its assets."""
    app.register_blueprint(bp)


@bp.after_request
def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("")
def page():
    """Swagger UI over /api/openapi.json."""
    return render_template("docs/index.html", prefix=PREFIX)


@bp.get("/init.js")
def start():
    """Starts Swagger UI (a file, not an inline script, so the CSP can forbid those)."""
    return send_from_directory(bp.root_path + "/static", "init.js", mimetype="text/javascript")


@bp.get("/<any(" + ", ".join(f'"{name}"' for name in ASSETS) + "):name>")
def asset(name: str):
    """One of Swagger UI's own files, from the installed package."""
    mimetype = "text/javascript" if name.endswith(".js") else None
    return send_from_directory(SWAGGER_UI, name, mimetype=mimetype, max_age=86400)
