"""Company tags: Codat's flat map of short strings ({"region": "uk"}), checked and filtered.

One set of limits for the API and the portal's form, Codat's (its companyDetails.tags):
at most 10 tags, each name 1 to 27 characters, each value a string of at most 100.
Webhooks route by `Company.tags` directly, so only checked maps are ever stored.

The API's list filter on tags is `connections/api/tag_filter.py`.
"""

MAX_TAGS = 10
MAX_NAME = 27
MAX_VALUE = 100


def tag_errors(tags) -> list[str]:
    """What is wrong with a tags map, in sentences (empty when it is fine)."""
    if not isinstance(tags, dict):
        return ["Tags must be a map of names to text values."]
    errors = []
    if len(tags) > MAX_TAGS:
        errors.append(f"A company can have at most {MAX_TAGS} tags; {len(tags)} were given.")
    for name, value in tags.items():
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
            errors.append(f"The tag name {name!r} must be 1 to {MAX_NAME} characters.")
        if not isinstance(value, str):
            errors.append(f"The tag {name!r} must have a text value.")
        elif len(value) > MAX_VALUE:
            errors.append(f"The value of the tag {name!r} can be at most {MAX_VALUE} characters.")
    return errors


def parse_lines(text: str) -> tuple[dict, list[str]]:
    """The portal form's tags ("name=value", one a line) as a map, and what is wrong with them."""
    tags, errors = {}, []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            errors.append(f"Line {number}: write each tag as name=value.")
        elif name in tags:
            errors.append(f"Line {number}: the tag {name!r} is given twice.")
        else:
            tags[name] = value
    return tags, errors or tag_errors(tags)


def as_lines(tags) -> str:
    return "\n".join(f"{name}={value}" for name, value in sorted((tags or {}).items()))
