"""Security records: the audit trail (AuthKeys and credential sets live beside it)."""

from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """Raised by any attempt to change or remove an audit entry through the ORM."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AppendOnly("Audit entries are append-only.")

    def delete(self):
        raise AppendOnly("Audit entries are append-only.")


class AuditEntry(models.Model):
    """One security-relevant event. Append-only: no code path updates or deletes entries."""

    class Outcome(models.TextChoices):
        ALLOWED = "allowed"
        DENIED = "denied"
        FAILED = "failed"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Null for installation-level events (e.g. a staff member signing in).
    operator = models.ForeignKey(
        "accounts.Operator",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audit_entries",
    )
    actor_kind = models.CharField(max_length=10)  # root, sam, authkey, staff, anonymous
    actor = models.CharField(max_length=320, blank=True, default="")
    action = models.CharField(max_length=100)  # the API name, e.g. "User:createUser"
    target = models.CharField(max_length=400, blank=True, default="")
    outcome = models.CharField(max_length=7, choices=Outcome.choices)
    source_ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=32, blank=True, default="")
    request_path = models.CharField(max_length=300, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    # The acting SAM user's name ("" for root, staff and anonymous callers) and the AuthKey
    # that authenticated the call, kept apart from `actor` so that both can be filtered.
    user_name = models.CharField(max_length=100, blank=True, default="")
    auth_key_id = models.CharField(max_length=64, blank=True, default="")
    # Tamper evidence (security/audit.py): one hash chain per operator, and one ("") for
    # installation-level entries. `seq` numbers the chain from 1; `entry_hash` is a keyed
    # hash over the canonical form of this entry, which includes `prev_hash`.
    chain = models.CharField(max_length=12, blank=True, default="")
    # NULL while the entry is unsealed (PostgreSQL: written freely, sealed after commit);
    # then `entry_hash` holds its content MAC (security/audit.py).
    seq = models.PositiveBigIntegerField(null=True, blank=True, default=0)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    entry_hash = models.CharField(max_length=64, blank=True, default="")
    # The fingerprint of the key that sealed `entry_hash` (security/auditkeys.py); the entry
    # verifies under that key only. Empty for entries written before it was recorded.
    key_fp = models.CharField(max_length=16, blank=True, default="")

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [
            # The audit tab's order (newest first, id breaks ties) straight from the index.
            models.Index(fields=["operator", "-at", "-id"], name="audit_operator_at_id"),
            models.Index(fields=["operator", "action", "-at"], name="audit_operator_action_at"),
            # The sealer's work list: only unsealed entries, so it stays tiny.
            models.Index(
                fields=["chain", "id"],
                name="audit_unsealed",
                condition=models.Q(seq__isnull=True),
            ),
        ]
        constraints = [
            # Two writers can never both append entry N to one chain (no forks).
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_unique"),
        ]
        ordering = ["-at", "-id"]

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object):
        raise AppendOnly("Audit entries are append-only.")


class AuditChainHead(models.Model):
    """The last entry of one audit chain; its row lock serializes writers of that chain."""

    chain = models.CharField(primary_key=True, max_length=12)
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True, default="")
    # Retention pruning removes whole prefixes; it records where the kept suffix starts.
    pruned_through_seq = models.PositiveBigIntegerField(default=0)
    pruned_through_hash = models.CharField(max_length=64, blank=True, default="")


class AuditFailureWindow(models.Model):
    """Failed sign-ins of one kind counted instead of recorded one by one (security/failures.py).

    One row per chain, action, refusing bucket and throttle window: the first attempt of
    the window is recorded in full, the others only counted here; when the window has
    ended, one summary entry records the count and the row goes.
    """

    key = models.CharField(max_length=64, unique=True)  # sha256 of all of the above
    chain = models.CharField(max_length=12, blank=True, default="")
    action = models.CharField(max_length=100)
    bucket_kind = models.CharField(max_length=20)  # "ip", "acct", "authkey-key", "malformed" ...
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)
    first_entry = models.PositiveBigIntegerField(default=0)  # the entry recorded in full (id)

    class Meta:
        indexes = [models.Index(fields=["chain", "window_end"], name="audit_failure_chain_end")]


class CredentialSet(models.Model):
    """One operator's third-party secret, sealed by security/crypto.py; never stored in clear.

    `ciphertext` and `wrapped_key` hold nonce-prefixed AES-256-GCM output; `master_key_id`
    names the master key that wrapped the data key (rotation re-wraps, see crypto.py). The
    certificate subject and expiry of an x509 set are public facts, kept in clear for the
    list and its expiry warning.
    """

    operator = models.ForeignKey(
        "accounts.Operator", on_delete=models.CASCADE, related_name="credential_sets"
    )
    credentials_id = models.CharField(max_length=100)
    type = models.CharField(max_length=64)
    description = models.CharField(max_length=1000, blank=True, default="")
    ciphertext = models.BinaryField()
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=32, db_index=True)
    cert_subject = models.CharField(max_length=1000, blank=True, default="")
    cert_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "credentials_id"], name="unique_credentials_id_per_operator"
            )
        ]
        indexes = [models.Index(fields=["operator", "updated_at"])]

    def __str__(self) -> str:
        return self.credentials_id

    def __repr__(self) -> str:
        return f"<CredentialSet {self.operator_id}/{self.credentials_id} ({self.type})>"


class CredentialWrite(models.Model):
    """One attempt by a principal to create, update or delete a credential set.

    The rows are the counter of LATCHKEY_CREDENTIAL_WRITES_PER_HOUR (security/credential_rate.py);
    rows older than the hour are removed as new ones are written.
    """

    principal = models.ForeignKey(
        "accounts.Principal", on_delete=models.CASCADE, related_name="credential_writes"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["principal", "at"], name="credential_write_principal_at")]


class Group(models.Model):
    """A named set of devices' service configurations (minimal: enough to use a credential set)."""

    operator = models.ForeignKey(
        "accounts.Operator", on_delete=models.CASCADE, related_name="device_groups"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "name"], name="unique_group_name_per_operator"
            )
        ]

    def __str__(self) -> str:
        return self.name


class GroupServiceConfig(models.Model):
    """One service's configuration in a group: where data goes and which credential set it uses."""

    class Service(models.TextChoices):
        BEAM = "beam", "Beam"
        FUNNEL = "funnel", "Funnel"
        FUNK = "funk", "Funk"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="services")
    service = models.CharField(max_length=10, choices=Service.choices)
    destination_url = models.CharField(max_length=2000)
    # PROTECT: a set in use cannot disappear from under a group, even outside the console.
    credential_set = models.ForeignKey(
        CredentialSet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="group_services",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "service"], name="unique_service_per_group")
        ]


class AuthKey(models.Model):
    """One AuthKey of a principal: a public ID and a keyed hash of its secret, never the secret.

    A live key holds slot 1 or 2; the unique (principal, slot) constraint lets the database
    itself refuse a third live key, whatever concurrent requests do (SECURITY.md T9, E3).
    Revoking clears the slot and keeps the row as a tombstone for the audit trail.
    """

    key_id = models.CharField(max_length=38, unique=True)
    # SET_NULL: deleting a SAM user revokes its keys first; the tombstones outlive it.
    principal = models.ForeignKey(
        "accounts.Principal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="auth_keys",
    )
    operator = models.ForeignKey(
        "accounts.Operator", on_delete=models.CASCADE, related_name="auth_keys"
    )
    # Who held the key ("root" or the SAM user name), kept for the tombstone.
    holder = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64)
    # A keyed hash of the secret alone (security/authkeys.lookup_hash): finds the key of a
    # secret reported leaked without its ID. "" for keys made before it, until next used.
    secret_lookup = models.CharField(max_length=64, blank=True, default="", db_index=True)
    slot = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.CharField(max_length=45, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=400, blank=True, default="")
    revoke_reason = models.CharField(max_length=400, blank=True, default="")
    # What the key is for ("CI deploy job"), optional, set when it is generated: two keys
    # made the same minute no longer look alike. Free text: never a secret.
    description = models.CharField(max_length=100, blank=True, default="")
    # Where the key may be used from: normalized CIDRs separated by spaces, "" = anywhere
    # (console/net.parse_source_networks; checked at the exchange and on every call made
    # with its sessions, docs/authkeys.md "Source limits").
    allowed_networks = models.TextField(blank=True, default="")
    # The lifecycle (docs/authkeys.md). A deactivated key keeps its slot (it counts toward
    # the two) but cannot be exchanged; an expiring key and a rolled key lapse into a
    # tombstone (reason "expired" / "rolled") at the first use or cron run past the time,
    # and the exchange refuses them from that exact second whichever comes first.
    deactivated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoke_at = models.DateTimeField(null=True, blank=True)  # a roll's scheduled revocation
    rolled_to = models.CharField(max_length=38, blank=True, default="")  # the replacement

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "slot"], name="two_live_authkeys"),
            models.CheckConstraint(
                condition=models.Q(slot__isnull=True) | models.Q(slot__in=[1, 2]),
                name="authkey_slot_1_or_2",
            ),
            models.CheckConstraint(
                condition=models.Q(slot__isnull=True, revoked_at__isnull=False)
                | models.Q(slot__isnull=False, revoked_at__isnull=True),
                name="authkey_live_xor_revoked",
            ),
        ]
        indexes = [
            models.Index(fields=["operator", "holder"]),
            # The cron's sweep reads only live keys with a deadline.
            models.Index(
                fields=["expires_at"],
                condition=models.Q(slot__isnull=False, expires_at__isnull=False),
                name="authkey_expiry_due",
            ),
            models.Index(
                fields=["revoke_at"],
                condition=models.Q(slot__isnull=False, revoke_at__isnull=False),
                name="authkey_roll_due",
            ),
        ]

    def __str__(self) -> str:
        return self.key_id

    def __repr__(self) -> str:
        return f"<AuthKey {self.key_id} of {self.operator_id}/{self.holder}>"

    @property
    def is_live(self) -> bool:
        return self.slot is not None

    @property
    def is_active(self) -> bool:
        return self.slot is not None and self.deactivated_at is None

    @property
    def deadline(self):
        """Return when the key lapses (expiry or a roll's revocation, the earlier), or None."""
        times = [t for t in (self.expires_at, self.revoke_at) if t is not None]
        return min(times) if times else None


class PasswordResetToken(models.Model):
    """A password-reset code mailed to a root address: stored only as its keyed hash.

    Single use (`used_at`), short-lived (`expires_at`); a newer code or a reset retires the
    others of the same account (security/password_reset.py).
    """

    principal = models.ForeignKey(
        "accounts.Principal", on_delete=models.CASCADE, related_name="password_reset_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["principal", "used_at"])]


class TotpDevice(models.Model):
    """A principal's TOTP second factor (security/mfa.py): its secret sealed at rest.

    UNCONFIRMED from enableMFA until one code confirms it (verifyMFA), then ACTIVE.
    `last_step` is the time step of the last code accepted: a code is accepted only for a
    later step, with one conditional UPDATE, so a code is never accepted twice.
    """

    class Status(models.TextChoices):
        UNCONFIRMED = "UNCONFIRMED"
        ACTIVE = "ACTIVE"

    principal = models.OneToOneField(
        "accounts.Principal", on_delete=models.CASCADE, related_name="totp_device"
    )
    status = models.CharField(max_length=11, choices=Status.choices)
    ciphertext = models.BinaryField()
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=32)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)


class BackupCode(models.Model):
    """One single-use backup code, stored as a keyed hash (HMAC-SHA256 with the pepper)."""

    principal = models.ForeignKey(
        "accounts.Principal", on_delete=models.CASCADE, related_name="backup_codes"
    )
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "code_hash"], name="unique_backup_code")
        ]


class Passkey(models.Model):
    """A WebAuthn credential (passkey) registered by a root account or SAM user."""

    principal = models.ForeignKey(
        "accounts.Principal", on_delete=models.CASCADE, related_name="passkeys"
    )
    name = models.CharField(max_length=100)
    credential_id = models.BinaryField()
    credential_id_hash = models.CharField(max_length=64, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    user_handle = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)


class MfaRevokeToken(models.Model):
    """A single-use, short-lived token mailed to root to remove a lost TOTP device
    (Soracom's mfa_revoke_token); stored as a keyed hash, never in clear."""

    principal = models.ForeignKey(
        "accounts.Principal", on_delete=models.CASCADE, related_name="mfa_revoke_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
