"""Operators (tenants) and principals: the root account, SAM users and installation staff."""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.identifiers import is_valid_name, new_operator_id, validate_user_name


class Operator(models.Model):
    """One company's account: a root account, SAM users and everything they own."""

    id = models.CharField(primary_key=True, max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped by every change that can alter a permission decision in this operator, so
    # that compiled policies cached per process are refreshed on the very next request.
    policy_version = models.PositiveBigIntegerField(default=1)
    credential_quota = models.PositiveIntegerField(default=100)
    # Time-limited support access granted by root (security/support.py): until then, the
    # installation's support staff may view this account; every view is audited.
    support_access_until = models.DateTimeField(null=True, blank=True)
    support_access_granted_by = models.ForeignKey(
        "accounts.Principal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The permission document every SAM user of this operator holds (accounts/permissions.py).
    default_permissions = models.TextField(blank=True, default="")
    # Record successful reads (GET operations) in the audit log too, as Soracom's audit log
    # and CloudTrail's read events do; off by default, since it costs a write per read.
    record_reads = models.BooleanField(default=False)
    # Root's setting: SAM users sign in to the console only with a second factor.
    require_sam_console_mfa = models.BooleanField(default=False)
    # Root's setting: the longest lifetime, in days, of a newly generated AuthKey (None: no
    # limit). A generate that asks for longer, or for no expiry, is refused.
    authkey_max_lifetime_days = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.id

    @classmethod
    def create(cls) -> "Operator":
        for _ in range(10):
            try:
                with transaction.atomic():
                    return cls.objects.create(id=new_operator_id())
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate an operator ID")

    def bump_policy_version(self) -> None:
        Operator.objects.filter(pk=self.pk).update(policy_version=models.F("policy_version") + 1)


class PrincipalManager(BaseUserManager["Principal"]):
    def create_root(self, operator: Operator, email: str, password: str | None) -> "Principal":
        email = self.normalize_email(email).lower()
        root = self.model(
            operator=operator, kind=Principal.Kind.ROOT, email=email, handle=f"root:{email}"
        )
        root.set_password(password)
        root.save()
        return root

    def create_sam_user(
        self, operator: Operator, user_name: str, description: str = ""
    ) -> "Principal":
        validate_user_name(user_name)
        user = self.model(
            operator=operator,
            kind=Principal.Kind.SAM,
            user_name=user_name,
            description=description,
            handle=f"sam:{operator.id}:{user_name}",
        )
        user.set_unusable_password()
        user.save()
        return user

    def create_staff(self, handle: str, password: str | None, role: str) -> "Principal":
        """Create an installation staff account of one role (support or administrator).

        No staff account is a Django superuser: what each role may do is decided by its
        role on every request (security/staff.py), never by `is_superuser`.
        """
        if role not in Principal.StaffRole.values:
            raise ValidationError(f"Unknown staff role {role!r}.")
        if not is_valid_name(handle):
            # Tenant handles are "root:<email>" and "sam:<op>:<name>": a staff handle never
            # holds ":" and so can never take a tenant's place in the handle namespace.
            raise ValidationError(
                "A staff handle is 1-100 letters, digits, '-', '_', '.' or '@', "
                "starting with a letter or digit."
            )
        staff = self.model(
            kind=Principal.Kind.STAFF,
            staff_role=role,
            handle=handle,
            user_name=handle,
            is_staff=True,
            is_superuser=False,
        )
        staff.set_password(password)
        staff.save()
        return staff

    def create_superuser(self, handle: str, password: str | None = None, **extra: object):
        """Create an installation administrator (what `manage.py createsuperuser` makes)."""
        return self.create_staff(handle, password, Principal.StaffRole.ADMIN)


class Principal(AbstractBaseUser, PermissionsMixin):
    """A root account, a SAM user, or an installation staff account (support or admin)."""

    class Kind(models.TextChoices):
        ROOT = "root", "Root"
        SAM = "sam", "SAM user"
        STAFF = "staff", "Installation staff"

    class StaffRole(models.TextChoices):
        # Support staff revoke reported AuthKeys and see an operator's account only while
        # its root has granted support access (/staff/). Installation administrators run
        # the installation (quotas, staff accounts: /admin/) and never see tenant data.
        SUPPORT = "support", "Support staff"
        ADMIN = "admin", "Installation administrator"

    # Internal unique login key: root:<email>, sam:<operator>:<name>, or the staff name.
    handle = models.CharField(max_length=320, unique=True)
    kind = models.CharField(max_length=5, choices=Kind.choices)
    operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.CASCADE, related_name="principals"
    )
    email = models.EmailField(max_length=254, blank=True, default="")
    user_name = models.CharField(max_length=100, blank=True, default="")
    description = models.CharField(max_length=1000, blank=True, default="")
    is_staff = models.BooleanField(default=False)
    # Installation staff only ("" for tenants): see StaffRole.
    staff_role = models.CharField(max_length=7, choices=StaffRole.choices, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    # A SAM user's inline permission document (accounts/permissions.py); "" when none.
    inline_permission = models.TextField(blank=True, default="")
    # Session epochs (docs/sessions.md). Every session records the epochs it was opened
    # under and dies when they move: `session_epoch` ends all of the principal's sessions
    # (console and API), `password_epoch` the API sessions opened with its password.
    # Bumped with UPDATE ... + 1 in accounts/apisessions.py, never by assigning a value
    # read earlier, so that two concurrent bumps cannot collapse into one.
    session_epoch = models.PositiveBigIntegerField(default=0)
    password_epoch = models.PositiveBigIntegerField(default=0)
    # A SAM user's trust policy (accounts/trustpolicy.py): who may switch to this user; ""
    # when none. `trust_epoch` ends every switched session into the user when it moves (a
    # trust policy saved or deleted, "end switched sessions"): docs/sessions.md.
    trust_policy = models.TextField(blank=True, default="")
    trust_epoch = models.PositiveBigIntegerField(default=0)

    objects = PrincipalManager()

    EPOCHS = ("session_epoch", "password_epoch", "trust_epoch")

    USERNAME_FIELD = "handle"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "user_name"],
                condition=Q(kind="sam"),
                name="unique_sam_user_name_per_operator",
            ),
            models.UniqueConstraint(
                fields=["operator"], condition=Q(kind="root"), name="one_root_per_operator"
            ),
            models.CheckConstraint(
                condition=Q(kind="staff") | Q(operator__isnull=False),
                name="tenant_principal_has_operator",
            ),
            # Every staff account has exactly one role, tenants none; nobody is a Django
            # superuser (a superuser would pass every ModelAdmin permission check).
            models.CheckConstraint(
                condition=Q(kind="staff", is_staff=True, staff_role__in=["support", "admin"])
                | (~Q(kind="staff") & Q(is_staff=False, staff_role="")),
                name="staff_role_only_for_staff",
            ),
            models.CheckConstraint(condition=Q(is_superuser=False), name="no_superusers"),
        ]
        indexes = [models.Index(fields=["operator", "kind", "user_name"])]

    def __str__(self) -> str:
        return self.display_name

    @classmethod
    def partial(cls, **fields: object) -> "Principal":
        """Return a principal built from a raw hot-path row: for reading, never to save."""
        principal = cls(**fields)
        principal._state.adding = False
        principal._state.db = "default"
        return principal

    @property
    def is_root(self) -> bool:
        return self.kind == self.Kind.ROOT

    @property
    def is_sam(self) -> bool:
        return self.kind == self.Kind.SAM

    @property
    def is_support_staff(self) -> bool:
        return self.kind == self.Kind.STAFF and self.staff_role == self.StaffRole.SUPPORT

    @property
    def is_installation_admin(self) -> bool:
        return self.kind == self.Kind.STAFF and self.staff_role == self.StaffRole.ADMIN

    @property
    def display_name(self) -> str:
        if self.kind == self.Kind.ROOT:
            return f"root ({self.email})"
        return self.user_name

    @property
    def has_password(self) -> bool:
        return self.has_usable_password()

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now() if raw_password is not None else None
        self._password_replaced = True

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self.password_changed_at = None
        self._password_replaced = True

    def get_session_auth_hash(self) -> str:
        """Return what a console session must match: the password hash and the epoch.

        Django's own hash covers only the password field, which ends console sessions at a
        password change but not at "revoke all tokens"; folding in the session epoch does
        both, checked against the database on every request in every worker.
        """
        return self._session_hash(None)

    def get_session_auth_fallback_hash(self):
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret)

    def _session_hash(self, secret: str | None) -> str:
        return salted_hmac(
            "latchkey.accounts.Principal.session",
            f"{self.session_epoch}:{self.password}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def save(self, *args: object, **kwargs: object) -> None:
        self.updated_at = timezone.now()
        if not self._state.adding and kwargs.get("update_fields") is None:
            # Never write the epochs back from memory: an object loaded before a bump
            # would restore the old value and revive the sessions the bump ended.
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in self.EPOCHS
            ]
        adding = self._state.adding
        super().save(*args, **kwargs)
        if getattr(self, "_password_replaced", False):
            self._password_replaced = False
            if not adding:  # a new principal has no session to end
                self._end_password_sessions()

    def _end_password_sessions(self) -> None:
        # Whatever wrote the password (the console, the API, `manage.py changepassword`, a
        # shell), the API sessions it opened end: their password epoch no longer matches
        # (docs/sessions.md). Bumped in the database, like every epoch, then read back so
        # that this object opens sessions under the new epoch.
        mine = Principal.objects.filter(pk=self.pk)
        mine.update(password_epoch=F("password_epoch") + 1)
        self.password_epoch = mine.values_list("password_epoch", flat=True).get()


class StaffAccountManager(PrincipalManager):
    def get_queryset(self):
        return super().get_queryset().filter(kind=Principal.Kind.STAFF)


class StaffAccount(Principal):
    """An installation staff account: the only principals the Django admin lists.

    The manager itself filters to staff, so no admin view can reach a tenant's principal
    by its primary key.
    """

    objects = StaffAccountManager()

    class Meta:
        proxy = True
        verbose_name = "staff account"


class Role(models.Model):
    """A named permission document of one operator, attachable to its SAM users."""

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="roles")
    role_id = models.CharField(max_length=100)
    description = models.CharField(max_length=1000, blank=True, default="")
    permission = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "role_id"], name="unique_role_per_operator")
        ]

    def __str__(self) -> str:
        return self.role_id


class RoleAttachment(models.Model):
    """One role attached to one SAM user (a role in use cannot be deleted: PROTECT)."""

    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="attachments")
    principal = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="role_attachments"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["role", "principal"], name="unique_role_attachment")
        ]


class Throttle(models.Model):
    """One failure counter for one key in one fixed window (see accounts/throttle.py)."""

    key = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)


class ApiSession(models.Model):
    """One `/auth` exchange: an apiKey + token pair, live until it expires or is revoked."""

    class OpenedBy(models.TextChoices):
        """How the session was opened: it decides which events end it (docs/sessions.md)."""

        PASSWORD = "password", "Password"
        AUTHKEY = "authkey", "AuthKey"
        SWITCH_USER = "switch_user", "Switch user"

    api_key = models.CharField(max_length=64, unique=True)
    jti = models.CharField(max_length=32, unique=True)
    principal = models.ForeignKey(Principal, on_delete=models.CASCADE, related_name="api_sessions")
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="api_sessions")
    # The AuthKey that was exchanged (its public ID), empty for a password exchange.
    auth_key_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    opened_by = models.CharField(max_length=16, choices=OpenedBy.choices)
    # The principal's epochs when the credential was checked (Principal.session_epoch);
    # password_epoch only for a session opened with the password.
    session_epoch = models.PositiveBigIntegerField(default=0)
    password_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    source_ip = models.CharField(max_length=45, blank=True, default="")
    # A switched session (Auth:switchUser): `principal` is the target SAM user, and these
    # name where it came from. It lives only while its source does (the source principal's
    # epochs as recorded, the source API session when it came from one) and while the
    # target's trust epoch is unchanged; deleting the source deletes it (cascade).
    source_principal = models.ForeignKey(
        Principal, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source_session = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source_session_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    source_password_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    trust_epoch = models.PositiveBigIntegerField(null=True, blank=True)
    # Opened with a second factor (a TOTP code): the condition variable
    # multiFactorAuthPresent (accounts/conditions.py). Never for an AuthKey exchange.
    second_factor = models.BooleanField(default=False)
    # OAuth client credentials' `scope` (security/oauth.py): space-separated API names or
    # globs that narrow what the session may call; "" for every other session (no narrowing).
    # A call needs both the principal's permission and a match here (accounts/policy.py).
    scope = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["principal", "revoked_at"])]


class TrustedPrincipal(models.Model):
    """One SRN a SAM user's trust policy allows to switch to it: the index of "who trusts me".

    Written from the document on every save (accounts/trustpolicy.py), so that the console
    can list a signed-in principal's switch targets without reading every policy. The
    decision itself always reads the target's document.
    """

    target = models.ForeignKey(Principal, on_delete=models.CASCADE, related_name="trusted")
    srn = models.CharField(max_length=200, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "srn"], name="unique_trusted_srn")]
