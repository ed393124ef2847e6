"""A customer's inventory: one directory in Ansible's layout, read into typed settings.

    CUSTOMER/hosts.yml                     the mail server and how to reach it
    CUSTOMER/group_vars/all/provision.yml  the settings (provision_*)
    CUSTOMER/group_vars/all/vault.yml      the secrets (vault_*), encrypted with ansible-vault

A consultant keeps his customers' inventories together in a fleet directory:

    FLEET/consultant.yml                   defaults for every customer (settings and role variables)
    FLEET/customers/NAME/                  each customer's inventory, as above
    FLEET/templates/                       the consultant's own templates, under the customers' own
"""

from pathlib import PurePosixPath

HOSTS_FILE = PurePosixPath("hosts.yml")
SETTINGS_FILE = PurePosixPath("group_vars/all/provision.yml")
VAULT_FILE = PurePosixPath("group_vars/all/vault.yml")
CONSULTANT_FILE = PurePosixPath("consultant.yml")
CUSTOMERS_DIR = PurePosixPath("customers")
