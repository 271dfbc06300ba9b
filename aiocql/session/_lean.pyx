# cython: language_level=3, annotation_typing=False, binding=False
include "fast.py"

# The lean path of ``session.execute(prepared, values)`` compiled: its source is aiocql/session/fast.py itself,
# included above (one source, two builds; the pure module is the twin, and the tests run both). The include comes
# first: fast.py's docstring opens the module. aiocql.session.fast uses this build where it is built, switched on
# and built from the fast.py beside it (aiocql.extensions).

# -- the build's record of its sources (see aiocql/types/_murmur3.pyx) -----------------------------------------
cdef extern from *:
    """
    #ifndef AIOCQL_SOURCE_DIGEST
    #define AIOCQL_SOURCE_DIGEST ""
    #endif
    #ifndef AIOCQL_SOURCE_FILES
    #define AIOCQL_SOURCE_FILES ""
    #endif
    """
    const char *AIOCQL_SOURCE_DIGEST
    const char *AIOCQL_SOURCE_FILES

SOURCE_DIGEST = AIOCQL_SOURCE_DIGEST.decode("ascii")
SOURCE_FILES = AIOCQL_SOURCE_FILES.decode("ascii")
