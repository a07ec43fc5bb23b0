#!/usr/bin/env python3
"""Checks every relative link of a built mdBook: the file it names exists and, for a #fragment,
the page has an element with that id. Web links are not followed (CI has no network).

    python3 scripts/check-book-links.py docs/book [README.md CONTRIBUTING.md ...]

Markdown files given after the book have their relative links checked the same way against the
repository (a #fragment against the headings of the .md file it names, as GitHub makes anchors).
Exits 1 and names each broken link (page, link, why); 0 when every link resolves.
"""
import html.parser
import os
import re
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.base = set(), [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "base":
            # mdBook's 404.html: its links are relative to the book's root.
            self.base = attrs.get("href")
            return
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.links.append((tag, attrs[key]))


def is_external(link):
    parts = urllib.parse.urlsplit(link)
    return bool(parts.scheme) or link.startswith("//")


def github_anchors(markdown):
    """The ids GitHub gives a Markdown file's headings (lowercase, punctuation dropped, spaces to -)."""
    ids, seen, fenced = set(), {}, False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"#{1,6} +(.*?) *#* *$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            ids.add(slug if n == 0 else f"{slug}-{n}")
    return ids


def markdown_links(path):
    """The broken relative links of one Markdown file, and how many links were checked."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    text = re.sub(r"`[^`\n]*`", "", text)
    broken, checked = [], 0
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if is_external(link):
            continue
        checked += 1
        target, _, fragment = link.partition("#")
        file = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(target))) if target else path
        if not os.path.exists(file):
            broken.append(f"{path}: {link}: {file} does not exist")
        elif fragment and file.endswith(".md"):
            with open(file, encoding="utf-8") as f:
                if fragment not in github_anchors(f.read()):
                    broken.append(f"{path}: {link}: {file} has no heading with the anchor \"{fragment}\"")
    return broken, checked


def main(book, markdown_files):
    if not os.path.isfile(os.path.join(book, "index.html")):
        sys.exit(f"{book}: no index.html; build the book first (mdbook build docs)")
    pages = {}
    for folder, _, files in os.walk(book):
        for name in files:
            if name.endswith(".html"):
                path = os.path.normpath(os.path.join(folder, name))
                parser = Page()
                with open(path, encoding="utf-8") as f:
                    parser.feed(f.read())
                pages[path] = parser
    broken, checked = [], 0
    for path, page in sorted(pages.items()):
        for tag, link in page.links:
            if not link or is_external(link):
                continue
            checked += 1
            target, _, fragment = link.partition("#")
            target = urllib.parse.unquote(target.split("?")[0])
            if target:
                folder = book if page.base == "/" else os.path.dirname(path)
                file = os.path.normpath(os.path.join(folder, target))
                if target.endswith("/") or os.path.isdir(file):
                    file = os.path.join(file, "index.html")
            else:
                file = path
            shown = os.path.relpath(path, book)
            if not os.path.exists(file):
                broken.append(f"{shown}: <{tag}> {link}: {os.path.relpath(file, book)} does not exist")
            elif fragment and file in pages and urllib.parse.unquote(fragment) not in pages[file].ids:
                broken.append(f"{shown}: <{tag}> {link}: {os.path.relpath(file, book)} has no id \"{fragment}\"")
    for path in markdown_files:
        more, n = markdown_links(path)
        broken += more
        checked += n
    for line in broken:
        print(line)
    print(f"{len(pages)} pages and {len(markdown_files)} Markdown files, {checked} relative links checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/book", sys.argv[2:]))
