"""The dashboard's forms: validated on the server, each error shown beside its field.
Every form posted carries Flask-WTF's CSRF token; filters are GET forms without one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    URL,
    DataRequired,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from gateway.core.accounts.models import Role
from gateway.core.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from gateway.core.accounts.users import AccountError, normalize_email


def options(pairs) -> list[SelectChoice]:
    """Choices of a select or checkboxes from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def email_address(_form, field) -> None:
    """The accounts service's own check of an email address (what it will store)."""
    try:
        normalize_email(field.data or "")
    except AccountError:
        raise ValidationError(_l("Not an email address.")) from None


ROLE_CHOICES = [
    (Role.OWNER.value, _l("Owner: everything")),
    (Role.OPERATOR.value, _l("Operator: orders, webhooks and payouts; no approvals, no keys")),
    (Role.VIEWER.value, _l("Viewer: read only")),
]


class Checkboxes(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _password(label) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(
                min=MIN_LENGTH,
                max=MAX_LENGTH,
                message=_l(
                    "Between %(min)d and %(max)d characters.", min=MIN_LENGTH, max=MAX_LENGTH
                ),
            ),
        ],
    )


class ConfirmForm(FlaskForm):
    """A critical operation: the password or a fresh 2FA code again (step-up)."""

    confirm = PasswordField(
        _l("Your password or a 2FA code"), validators=[DataRequired(), Length(max=MAX_LENGTH)]
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=32)],
    )


class NewPasswordForm(FlaskForm):
    password = _password(_l("New password"))
    repeat = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class InviteAcceptForm(NewPasswordForm):
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=200)])


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), email_address, Length(max=254)],
    )
    role = SelectField(_l("Role"), choices=options(ROLE_CHOICES), default=Role.VIEWER.value)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=options(ROLE_CHOICES))


class KeyForm(ConfirmForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    scopes = Checkboxes(
        _l("Scopes"), validators=[DataRequired(_l("Choose at least one scope."))], choices=[]
    )
    allowed_ips = TextAreaField(
        _l("Allowed IP addresses or networks, one a line (empty: any)"),
        validators=[Optional(), Length(max=2000)],
    )


class EndpointForm(FlaskForm):
    url = StringField(
        _l("URL"),
        validators=[
            DataRequired(),
            URL(require_tld=False, message=_l("Not a URL.")),
            Length(max=2048),
        ],
    )
    event_types = Checkboxes(
        _l("Events"), validators=[DataRequired(_l("Choose at least one event."))], choices=[]
    )
    description = StringField(_l("Description"), validators=[Optional(), Length(max=500)])


class TestOrderForm(FlaskForm):
    chain = SelectField(_l("Chain"), choices=[])
    amount = StringField(_l("Amount (USDT)"), validators=[DataRequired(), Length(max=40)])
    reference = StringField(
        _l("Reference"), default="dashboard test", validators=[DataRequired(), Length(max=200)]
    )


class XpubForm(ConfirmForm):
    chain = SelectField(_l("Chain"), choices=[])
    xpub = StringField(
        _l("Account extended public key (xpub)"), validators=[DataRequired(), Length(max=300)]
    )
    # the preview asks for no confirmation; saving does (see views.settings)
    confirm = PasswordField(_l("Your password or a 2FA code"), validators=[Optional()])


class OrderDefaultsForm(FlaskForm):
    expiry = IntegerField(
        _l("Orders expire after (minutes; empty: the server's default)"),
        validators=[Optional(), NumberRange(min=1, message=_l("At least 1 minute."))],
    )


class BrandingForm(FlaskForm):
    brand_name = StringField(_l("Shop name"), validators=[Optional(), Length(max=100)])
    logo_url = StringField(_l("Logo URL"), validators=[Optional(), Length(max=500)])
    return_url = StringField(
        _l("Return URL (back to the shop)"), validators=[Optional(), Length(max=500)]
    )


class TwoFactorPolicyForm(FlaskForm):
    required = BooleanField(_l("Require two-factor authentication for every user"))


class EnrolForm(FlaskForm):
    code = StringField(
        _l("The 6-digit code your app shows"), validators=[DataRequired(), Length(min=6, max=8)]
    )
