from django.db.models import QuerySet

from compositions.models import Composition
from mediahub.errors import one_or_not_found


def compositions_for(user) -> QuerySet[Composition]:
    return (
        Composition.objects.filter(owner=user)
        .select_related("job", "preview_job")
        .prefetch_related("job__outputs", "preview_job__outputs")
    )


def get_composition_for(user, composition_id: str) -> Composition:
    return one_or_not_found(compositions_for(user), composition_id, "No such composition.")
