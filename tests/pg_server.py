"""A throwaway real PostgreSQL cluster for the tests: initdb + pg_ctl on a Unix socket in a temp dir.

initdb and pg_ctl refuse to run as root ("cannot be run as root"), so under root they run as the
``postgres`` user through runuser. The cluster listens on no TCP port (listen_addresses=''), only on
its socket, and asks for a SCRAM password, so the tests also exercise credentials in the URL.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import uuid

USER = "eb"
PASSWORD = "s3cret-Pw"  # tests assert this never appears in output


def find_bin_dir():
    """The newest PostgreSQL bin directory here (Debian's /usr/lib/postgresql/N/bin), else PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    pg_ctl = shutil.which("pg_ctl")
    return os.path.dirname(pg_ctl) if pg_ctl else None


class PgServer(object):
    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.as_postgres = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="ebpg-")
        self.data = os.path.join(self.dir, "data")
        self.socket_dir = os.path.join(self.dir, "sock")
        os.mkdir(self.socket_dir)
        if self.as_postgres:
            import pwd

            pw = pwd.getpwnam("postgres")
            for path in (self.dir, self.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self.running = False

    def _run(self, *args):
        cmd = [os.path.join(self.bin_dir, args[0])] + list(args[1:])
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=120)
        if proc.returncode != 0:
            raise RuntimeError("{} failed: {}".format(" ".join(cmd), proc.stdout))
        return proc.stdout

    def init(self):
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as fh:
            fh.write(PASSWORD + "\n")
        if self.as_postgres:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", self.data, "-U", USER, "--pwfile", pwfile, "-A", "scram-sha-256",
                  "-E", "UTF8", "--no-instructions")
        os.remove(pwfile)
        return self

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                  "-c listen_addresses='' -k {} -c fsync=off".format(self.socket_dir), "start")
        self.running = True
        return self

    def stop(self):
        if self.running:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
            self.running = False

    def url(self, database="postgres", password=True):
        auth = "{}:{}".format(USER, PASSWORD) if password else USER
        return "postgresql://{}@/{}?host={}".format(auth, database, self.socket_dir)

    def new_database(self):
        import psycopg2

        name = "t_" + uuid.uuid4().hex[:12]
        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE {}".format(name))
        conn.close()
        return self.url(name)

    def close(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
