"""Create the Editors and Publishers groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RECORD_MODELS = ("event", "source", "place", "actor", "topic", "track")

EDITORS = "Editors"
PUBLISHERS = "Publishers"


def _codenames(actions):
    return [f"{action}_{model}" for model in RECORD_MODELS for action in actions]


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permissions(codenames):
        found = Permission.objects.filter(
            content_type__app_label="timeline", codename__in=codenames
        )
        missing = set(codenames) - set(found.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Missing permissions: {sorted(missing)}")
        return found

    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.set(permissions(_codenames(("add", "change", "view"))))
    publishers, _ = Group.objects.get_or_create(name=PUBLISHERS)
    publishers.permissions.set(
        permissions(_codenames(("add", "change", "view", "delete")) + ["publish_event"])
    )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[EDITORS, PUBLISHERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("timeline", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
