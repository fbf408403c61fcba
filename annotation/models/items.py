from django.db import models


class Item(models.Model):
    """One comparison: a prompt, optional context documents, and two or more responses.

    ``prompt`` is either a string or a list of chat messages (``{"role", "content"}``);
    ``context`` a list of documents (``{"id", "title", "text", "source"}``). Items are written
    once by an import and never edited: ``content_sha256`` is the digest of the normalised
    record, which is how a re-import recognises an item it already holds.
    """

    # No index of its own: the unique (sprint, external_id) index serves lookups by sprint.
    sprint = models.ForeignKey(
        "annotation.Sprint", on_delete=models.PROTECT, related_name="items", db_index=False
    )
    external_id = models.CharField(max_length=255)
    prompt = models.JSONField()
    context = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=100, blank=True, default="")
    stratum = models.CharField(max_length=100, blank=True, default="")
    is_gold = models.BooleanField(default=False)
    content_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # Queue state, not content: set once the item holds k live assignments, so the queue's
    # partial index drops it. Maintained by annotation.services.queue under the item's row lock;
    # db_default so that a COPY that leaves the column out still gets False.
    is_full = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["sprint", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sprint", "external_id"], name="item_external_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["sprint", "stratum"], name="item_sprint_stratum"),
            models.Index(fields=["sprint", "is_gold", "id"], name="item_sprint_gold"),
            # The queue walks this in id order; full items leave it, so it stays small as the
            # sprint fills and a request never wades through finished work.
            models.Index(
                fields=["sprint", "is_gold", "id"],
                condition=models.Q(is_full=False),
                name="item_open_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sprint_id}/{self.external_id}"

    @property
    def prompt_text(self) -> str:
        """The prompt flattened to text, for lists and search."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in self.prompt)


class Response(models.Model):
    """One model response of an item. ``key`` is the id the import gave it (``a``, ``b``…);
    rankings in judgments refer to responses by key."""

    # No index of its own: the unique (item, key) index serves lookups by item.
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="responses", db_index=False
    )
    key = models.CharField(max_length=64)
    text = models.TextField()
    model_name = models.CharField(max_length=200, blank=True, default="")
    model_version = models.CharField(max_length=100, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "key"], name="response_key_unique"),
            models.UniqueConstraint(fields=["item", "position"], name="response_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item} [{self.key}]"


class GoldAnswer(models.Model):
    """The known answer of a gold item, in its own table so that nothing serialising an item
    can leak it by accident."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="gold")
    answers = models.JSONField()

    def __str__(self) -> str:
        return f"gold for {self.item}"
