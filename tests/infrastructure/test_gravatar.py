from infrastructure.gravatar import gravatar_url

# printf %s test@example.com | sha256sum, worked out once outside the code under test.
TEST_EXAMPLE_HASH = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"


def test_url_uses_sha256_and_mystery_person_default():
    assert gravatar_url("test@example.com") == (f"https://www.gravatar.com/avatar/{TEST_EXAMPLE_HASH}?d=mp")


def test_email_is_trimmed_and_lower_cased():
    assert gravatar_url("  Test@Example.COM\n") == gravatar_url("test@example.com")


def test_different_emails_give_different_urls():
    assert gravatar_url("a@example.com") != gravatar_url("b@example.com")
