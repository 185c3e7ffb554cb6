"""Every user-facing message has a Chinese translation; English is the message id itself."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import yiwang
from yiwang.core import i18n

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def test_every_message_has_a_zh_cn_translation():
    src = Path(yiwang.__file__).parent
    ids = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(src), METHOD_MAP, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    ):
        ids.add(message if isinstance(message, str) else message[0])
    with i18n.catalog_path("zh_CN").open("rb") as fh:
        catalog = read_po(fh)
    missing = sorted(m for m in ids if m and not (catalog.get(m) and catalog.get(m).string))
    assert not missing, "run scripts/i18n.sh and translate:\n" + "\n".join(missing)
    assert len(ids) > 100


def test_gettext_follows_the_locale():
    token = i18n.set_locale("en")
    try:
        assert i18n._("Staff workspace") == "Staff workspace"
    finally:
        i18n._current.reset(token)
    assert i18n._("Staff workspace") == "政务端"  # default zh_CN
    assert i18n._("Hello, %(name)s", name="王磊") == "您好，王磊"
