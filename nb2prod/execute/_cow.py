"""Copy-on-write for a mirrored working folder, inside the process that writes (kernel or pipeline).

A working folder (``nb2prod.execute.workdir``) mirrors the notebook's folder: real directories, with
symbolic links to the original files (and, past a size budget, to whole directories). Reads follow
the links. Before this process writes through one of those links, this audit hook replaces the link
with a private copy (or, for a file about to be truncated, with nothing: the write makes a new file),
and a linked directory on the way with a real one holding links to its entries. So the original
files are never written, and each side's writes stay in its own folder.

Python's audit events come before the operation they announce (``open`` with its flags,
``os.remove``, ``os.rename``, ``os.mkdir``, ``os.utime`` ...), so the switch happens in time. Writes
from C code that bypasses Python's ``open`` (a C++ library's own ``fopen``) are not seen: a new file
still lands in the working folder, but such a library overwriting an existing original would write
through.

Standard library only, and no import of nb2prod: the kernel runs this file's text in a hidden cell
(:func:`install` keeps its state in a closure, the notebook's namespace gets nothing).
"""

import os
import shutil
import sys
import threading

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def install(root, origin):
    """Make writes under ``root`` (the mirror) copy-on-write against ``origin`` (the original)."""
    root = os.path.abspath(root)
    origin = os.path.abspath(origin)
    busy = threading.local()

    def ours(link):
        """A link the mirror made: it points into the original folder."""
        try:
            target = os.readlink(link)
        except OSError:
            return None
        return target if target == origin or target.startswith(origin + os.sep) else None

    def expand(link, target):
        """A linked directory becomes a real one, holding links to the original's entries."""
        staging = link + ".nb2prod-expand"
        os.mkdir(staging)
        for entry in os.listdir(target):
            os.symlink(os.path.join(target, entry), os.path.join(staging, entry))
        os.unlink(link)
        os.rename(staging, link)

    def private(path, keep):
        """The file at ``path`` becomes this side's own (a copy when ``keep``), the original untouched."""
        target = ours(path)
        if target is None:
            return
        if os.path.isdir(target):
            expand(path, target)
            return
        if not keep or not os.path.exists(target):
            os.unlink(path)
            return
        staging = path + ".nb2prod-copy"
        shutil.copy2(target, staging)
        os.replace(staging, path)

    def inside(path):
        """The absolute path (links not followed) when it lies in the mirror, else None."""
        if isinstance(path, int) or path is None:
            return None
        try:
            path = os.path.abspath(os.fsdecode(path))
        except (TypeError, ValueError):
            return None
        return path if path.startswith(root + os.sep) else None

    def parents(path):
        """Expand every linked directory on the way from the mirror's root to ``path``."""
        current = root
        for part in os.path.relpath(path, root).split(os.sep)[:-1]:
            current = os.path.join(current, part)
            if os.path.islink(current):
                target = ours(current)
                if target is None or not os.path.isdir(target):
                    return False  # the notebook's own link: not ours to redirect
                expand(current, target)
            elif not os.path.isdir(current):
                return False
        return True

    def prepare(path, last):
        """Before an operation on ``path``: private parents; ``last`` says what to do to the path."""
        path = inside(path)
        if path is None or not parents(path) or last is None:
            return
        if os.path.islink(path):
            private(path, keep=last == "copy")

    def hook(event, args):
        if event not in _EVENTS or getattr(busy, "on", False):
            return
        busy.on = True
        try:
            if event == "open":
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                if flags & _WRITE_FLAGS:
                    prepare(args[0], "new" if flags & os.O_TRUNC else "copy")
            elif event in ("os.rename", "os.replace", "os.link", "os.symlink"):
                prepare(args[0], None) if event in ("os.rename", "os.replace") else None
                prepare(args[1], None)
            elif event in ("os.utime", "os.chmod", "os.chown", "os.truncate", "shutil.rmtree"):
                prepare(args[0], "copy")
            else:  # os.remove, os.rmdir, os.mkdir: the name changes, the original stays
                prepare(args[0], None)
        except OSError:
            pass  # the operation itself will meet (and report) whatever went wrong
        finally:
            busy.on = False

    sys.addaudithook(hook)
    return hook


_EVENTS = frozenset({
    "open", "os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.replace", "os.link",
    "os.symlink", "os.utime", "os.chmod", "os.chown", "os.truncate", "shutil.rmtree",
})
