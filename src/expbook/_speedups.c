/* The logging hot path in C.
 *
 * Logger.log(data, step=None, commit=None) does what expbook.tracking.run.Run.log does in
 * Python (the fallback when this extension is not built): check that every key is a str and
 * every value a float or int, apply wandb step semantics, and buffer the row. Rows are
 * buffered column-wise in C arrays (step, wall time, schema id, values), so a call allocates
 * no Python object. Anything unusual (numpy scalars, tensors, nested dicts, strings, media)
 * goes through the Python `normalize(data, step)`, which returns the numeric part of the row
 * (keeping the rest aside) or raises an error naming the key.
 *
 * Logger.take() hands the buffered rows to the writer thread as
 * {key: (steps int64 bytes, walls float64 bytes, values float64 bytes)} in log order.
 * Both methods run with the GIL held and never release it, so they never interleave.
 *
 * Step metrics (wandb's define_metric(step_metric=...)) cost the hot path nothing: take()
 * moves the points of a key that has a step metric to the last value of that metric at or
 * before their row (set_step_metrics).
 *
 * The buffer is bounded: once it holds max_points values or max_bytes bytes (0: no bound),
 * log() calls on_full() after buffering its row. on_full (Python) waits until the writer
 * has taken the buffer, so a loop that logs faster than the store can write is held back
 * instead of piling up points in memory.
 *
 * The module also holds helpers of the store, at the end of this file: encode_chunk (the
 * chunk blob of a list of points), decode_body (a chunk's points as lists) and
 * sketch_indices (the overview points of a chunk).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <time.h>

static PyObject *str_step; /* interned "step": keyword names usually are this object */

typedef struct {
    PyObject_HEAD
    PyObject *normalize;  /* callable(data) -> dict of str -> float; raises MetricError */
    PyObject *check_step; /* callable(step) -> int; raises MetricError */
    long long step;       /* where the next log() without step= goes */
    PyObject *schemas;    /* list of key tuples; a row's schema id indexes it */
    PyObject *schema_ids; /* dict key tuple -> schema id */
    Py_ssize_t last;      /* schema id of the previous row, -1 if none */
    /* rows */
    int64_t *steps;
    double *walls;
    int32_t *schema;
    Py_ssize_t nrows, caprows;
    /* values of all rows, row after row */
    double *values;
    Py_ssize_t nvals, capvals;
    /* bound */
    PyObject *on_full;    /* callable() or NULL */
    Py_ssize_t max_points, max_bytes;
    /* step metrics, used by take(); step_of NULL: none */
    PyObject *step_of;    /* dict key -> step metric key (str) or None */
    PyObject *resolve;    /* callable(key) -> step metric key or None, for keys not in step_of */
    PyObject *sm_last;    /* dict step metric key -> its last value (float) */
    PyObject *on_back;    /* callable(data, step, current) or NULL: a step went backwards */
    int warned_back;
} Logger;

#define ROW_BYTES ((Py_ssize_t)(sizeof(int64_t) + sizeof(double) + sizeof(int32_t)))

static Py_ssize_t
Logger_nbytes(Logger *self)
{
    return self->nrows * ROW_BYTES + self->nvals * (Py_ssize_t)sizeof(double);
}

static int
Logger_is_full(Logger *self)
{
    return (self->max_points > 0 && self->nvals >= self->max_points)
           || (self->max_bytes > 0 && Logger_nbytes(self) >= self->max_bytes);
}

static int
grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t item)
{
    if (need <= *cap) return 0;
    Py_ssize_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *q = PyMem_Realloc(*p, (size_t)n * item);
    if (q == NULL) { PyErr_NoMemory(); return -1; }
    *p = q;
    *cap = n;
    return 0;
}

static void
Logger_clear_rows(Logger *self)
{
    self->nrows = 0;
    self->nvals = 0;
}

static void
Logger_dealloc(Logger *self)
{
    Py_XDECREF(self->normalize);
    Py_XDECREF(self->check_step);
    Py_XDECREF(self->schemas);
    Py_XDECREF(self->schema_ids);
    Py_XDECREF(self->on_full);
    Py_XDECREF(self->step_of);
    Py_XDECREF(self->resolve);
    Py_XDECREF(self->sm_last);
    Py_XDECREF(self->on_back);
    PyMem_Free(self->steps);
    PyMem_Free(self->walls);
    PyMem_Free(self->schema);
    PyMem_Free(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Logger_init(Logger *self, PyObject *args, PyObject *kwds)
{
    PyObject *normalize, *check_step, *on_full = Py_None, *on_back = Py_None;
    long long step = 0;
    Py_ssize_t max_points = 0, max_bytes = 0;
    static char *kwlist[] = {"normalize", "check_step", "step", "on_full", "max_points",
                             "max_bytes", "on_back", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|L$OnnO", kwlist, &normalize, &check_step,
                                     &step, &on_full, &max_points, &max_bytes, &on_back))
        return -1;
    if (on_back == Py_None) {
        Py_CLEAR(self->on_back);
    } else {
        Py_INCREF(on_back);
        Py_XSETREF(self->on_back, on_back);
    }
    self->warned_back = 0;
    if (on_full != Py_None && !PyCallable_Check(on_full)) {
        PyErr_SetString(PyExc_TypeError, "on_full must be callable or None");
        return -1;
    }
    Py_INCREF(normalize);
    Py_INCREF(check_step);
    Py_XSETREF(self->normalize, normalize);
    Py_XSETREF(self->check_step, check_step);
    if (on_full == Py_None) {
        Py_CLEAR(self->on_full);
    } else {
        Py_INCREF(on_full);
        Py_XSETREF(self->on_full, on_full);
    }
    self->max_points = max_points > 0 ? max_points : 0;
    self->max_bytes = max_bytes > 0 ? max_bytes : 0;
    Py_XSETREF(self->schemas, PyList_New(0));
    Py_XSETREF(self->schema_ids, PyDict_New());
    if (self->schemas == NULL || self->schema_ids == NULL) return -1;
    self->step = step;
    self->last = -1;
    Logger_clear_rows(self);
    return 0;
}

/* Schema id of `d` (a dict with str keys); the common case is the same keys object as the
 * previous row, checked by pointer. Returns -1 with an exception set on failure. */
static Py_ssize_t
schema_of(Logger *self, PyObject *d)
{
    Py_ssize_t n = PyDict_GET_SIZE(d);
    if (self->last >= 0) {
        PyObject *keys = PyList_GET_ITEM(self->schemas, self->last);
        if (PyTuple_GET_SIZE(keys) == n) {
            Py_ssize_t pos = 0, i = 0;
            PyObject *k, *v;
            int same = 1;
            while (PyDict_Next(d, &pos, &k, &v)) {
                if (PyTuple_GET_ITEM(keys, i++) != k) { same = 0; break; }
            }
            if (same) return self->last;
        }
    }
    PyObject *keys = PyTuple_New(n);
    if (keys == NULL) return -1;
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        Py_INCREF(k);
        PyTuple_SET_ITEM(keys, i++, k);
    }
    PyObject *id = PyDict_GetItemWithError(self->schema_ids, keys);
    Py_ssize_t sid;
    if (id != NULL) {
        sid = PyLong_AsSsize_t(id);
        /* keep the newest key objects so the pointer check hits next time */
        Py_INCREF(keys);
        if (PyList_SetItem(self->schemas, sid, keys) < 0) { Py_DECREF(keys); return -1; }
    } else {
        if (PyErr_Occurred()) { Py_DECREF(keys); return -1; }
        sid = PyList_GET_SIZE(self->schemas);
        PyObject *pid = PyLong_FromSsize_t(sid);
        if (pid == NULL || PyDict_SetItem(self->schema_ids, keys, pid) < 0
            || PyList_Append(self->schemas, keys) < 0) {
            Py_XDECREF(pid);
            Py_DECREF(keys);
            return -1;
        }
        Py_DECREF(pid);
    }
    Py_DECREF(keys);
    self->last = sid;
    return sid;
}

/* Append one row whose values are all exact floats or ints. */
static int
push_row(Logger *self, PyObject *d, long long step, double wall)
{
    Py_ssize_t sid = schema_of(self, d);
    if (sid < 0) return -1;
    Py_ssize_t n = PyDict_GET_SIZE(d);
    if (self->nrows >= self->caprows) {
        /* the three row arrays share one capacity */
        Py_ssize_t cap = self->caprows ? self->caprows * 2 : 1024;
        void *a = PyMem_Realloc(self->steps, (size_t)cap * sizeof(int64_t));
        if (a == NULL) { PyErr_NoMemory(); return -1; }
        self->steps = a;
        void *b = PyMem_Realloc(self->walls, (size_t)cap * sizeof(double));
        if (b == NULL) { PyErr_NoMemory(); return -1; }
        self->walls = b;
        void *c = PyMem_Realloc(self->schema, (size_t)cap * sizeof(int32_t));
        if (c == NULL) { PyErr_NoMemory(); return -1; }
        self->schema = c;
        self->caprows = cap;
    }
    if (grow((void **)&self->values, &self->capvals, self->nvals + n, sizeof(double)) < 0)
        return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    double *out = self->values + self->nvals;
    while (PyDict_Next(d, &pos, &k, &v)) {
        double x;
        if (PyFloat_CheckExact(v)) {
            x = PyFloat_AS_DOUBLE(v);
        } else {
            x = PyLong_AsDouble(v); /* checked for overflow before push_row */
        }
        *out++ = x;
    }
    self->steps[self->nrows] = step;
    self->walls[self->nrows] = wall;
    self->schema[self->nrows] = (int32_t)sid;
    self->nrows++;
    self->nvals += n;
    return 0;
}

static PyObject *
Logger_log(Logger *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *data = NULL, *step_obj = Py_None, *commit_obj = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "log() takes a dict and optional step, commit");
        return NULL;
    }
    if (nargs >= 1) data = args[0];
    if (nargs >= 2) step_obj = args[1];
    if (nargs >= 3) commit_obj = args[2];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        PyObject *val = args[nargs + i];
        if (name == str_step || PyUnicode_CompareWithASCIIString(name, "step") == 0)
            step_obj = val;
        else if (PyUnicode_CompareWithASCIIString(name, "commit") == 0) commit_obj = val;
        else if (PyUnicode_CompareWithASCIIString(name, "data") == 0) data = val;
        else {
            PyErr_Format(PyExc_TypeError, "log() got an unexpected keyword argument '%U'", name);
            return NULL;
        }
    }
    if (data == NULL) {
        PyErr_SetString(PyExc_TypeError, "log() missing required argument 'data'");
        return NULL;
    }

    long long step;
    if (step_obj == Py_None) {
        step = self->step;
    } else {
        int overflow = 0;
        if (PyLong_CheckExact(step_obj)) {
            step = PyLong_AsLongLongAndOverflow(step_obj, &overflow);
        } else {
            PyObject *s = PyObject_CallOneArg(self->check_step, step_obj);
            if (s == NULL) return NULL;
            step = PyLong_AsLongLongAndOverflow(s, &overflow);
            Py_DECREF(s);
        }
        if (overflow || (step == -1 && PyErr_Occurred())) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_OverflowError, "step does not fit in 64 bits");
            return NULL;
        }
    }
    /* wandb: a row given an explicit step stays open (the next log() without step= adds to
     * it) unless commit=True; a row without one is committed unless commit=False */
    int commit = commit_obj == Py_None ? step_obj == Py_None
                 : commit_obj == Py_True ? 1
                 : (commit_obj == Py_False ? 0 : PyObject_IsTrue(commit_obj));
    if (commit < 0) return NULL;

    PyObject *row = data;  /* borrowed unless normalized */
    int fast = PyDict_CheckExact(data);
    if (fast) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(data, &pos, &k, &v)) {
            if (!PyUnicode_CheckExact(k)) { fast = 0; break; }
            if (PyFloat_CheckExact(v)) continue;
            if (!PyLong_CheckExact(v)) { fast = 0; break; }
            /* an int too large for a double goes to normalize(), which names the key */
            double x = PyLong_AsDouble(v);
            if (x == -1.0 && PyErr_Occurred()) { PyErr_Clear(); fast = 0; break; }
        }
    }
    if (!fast) {
        PyObject *pstep = PyLong_FromLongLong(step);
        if (pstep == NULL) return NULL;
        row = PyObject_CallFunctionObjArgs(self->normalize, data, pstep, NULL);
        Py_DECREF(pstep);
        if (row == NULL) return NULL;
        if (!PyDict_CheckExact(row)) {
            Py_DECREF(row);
            PyErr_SetString(PyExc_TypeError, "normalize() must return a dict");
            return NULL;
        }
    }

    if (step < self->step && step_obj != Py_None && !self->warned_back
        && self->on_back != NULL) {
        /* kept (never drop data), said once */
        self->warned_back = 1;
        PyObject *r = PyObject_CallFunction(self->on_back, "OLL", data, step, self->step);
        if (r == NULL) goto fail;
        Py_DECREF(r);
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double wall = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (PyDict_GET_SIZE(row) > 0 && push_row(self, row, step, wall) < 0) goto fail;

    if (commit) {
        if (step >= self->step) self->step = step + 1;
    } else if (step > self->step) {
        self->step = step;
    }
    if (row != data) Py_DECREF(row);
    if (self->on_full != NULL && Logger_is_full(self)) {
        /* the row is buffered and the step advanced: an error here (KeyboardInterrupt
         * while waiting) loses nothing */
        PyObject *r = PyObject_CallNoArgs(self->on_full);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
fail:
    if (row != data) Py_DECREF(row);
    return NULL;
}

/* Step metrics of the columns of one take(): col_sm[c] is the index (into smkeys/smval) of
 * the step metric of column c, or -1; col_is_sm[c] the index of column c itself when it is a
 * step metric, or -1. smval starts at the last values seen (NaN: none yet). */
typedef struct {
    Py_ssize_t *col_sm, *col_is_sm;
    double *smval;
    PyObject *smkeys;  /* list of step metric keys */
    Py_ssize_t nsm;
} StepMetrics;

static void
sm_free(StepMetrics *sm)
{
    PyMem_Free(sm->col_sm);
    PyMem_Free(sm->col_is_sm);
    PyMem_Free(sm->smval);
    Py_CLEAR(sm->smkeys);
}

static Py_ssize_t
sm_index(StepMetrics *sm, PyObject *smidx, PyObject *key)
{
    PyObject *idx = PyDict_GetItemWithError(smidx, key);
    if (idx != NULL) return PyLong_AsSsize_t(idx);
    if (PyErr_Occurred()) return -1;
    Py_ssize_t m = sm->nsm;
    double *v = PyMem_Realloc(sm->smval, (size_t)(m + 1) * sizeof(double));
    if (v == NULL) { PyErr_NoMemory(); return -1; }
    sm->smval = v;
    v[m] = Py_NAN;
    PyObject *pm = PyLong_FromSsize_t(m);
    if (pm == NULL || PyDict_SetItem(smidx, key, pm) < 0 || PyList_Append(sm->smkeys, key) < 0) {
        Py_XDECREF(pm);
        return -1;
    }
    Py_DECREF(pm);
    sm->nsm = m + 1;
    return m;
}

static int
sm_prepare(Logger *self, StepMetrics *sm, PyObject *counts, Py_ssize_t ncols)
{
    int rc = -1;
    PyObject *smidx = PyDict_New();
    sm->smkeys = PyList_New(0);
    sm->col_sm = PyMem_Malloc((size_t)ncols * sizeof(Py_ssize_t));
    sm->col_is_sm = PyMem_Malloc((size_t)ncols * sizeof(Py_ssize_t));
    if (smidx == NULL || sm->smkeys == NULL) goto done;
    if (sm->col_sm == NULL || sm->col_is_sm == NULL) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t c = 0; c < ncols; c++) sm->col_sm[c] = sm->col_is_sm[c] = -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(self->sm_last, &pos, &k, &v)) {
        Py_ssize_t m = sm_index(sm, smidx, k);
        if (m < 0) goto done;
        double x = PyFloat_AsDouble(v);
        if (x == -1.0 && PyErr_Occurred()) goto done;
        sm->smval[m] = x;
    }
    pos = 0;
    while (PyDict_Next(counts, &pos, &k, &v)) {
        Py_ssize_t c = PyLong_AsSsize_t(v);
        PyObject *metric = PyDict_GetItemWithError(self->step_of, k);
        if (metric == NULL) {
            if (PyErr_Occurred()) goto done;
            PyObject *r = PyObject_CallOneArg(self->resolve, k);
            if (r == NULL) goto done;
            int bad = PyDict_SetItem(self->step_of, k, r);
            Py_DECREF(r);
            if (bad < 0) goto done;
            metric = PyDict_GetItemWithError(self->step_of, k);
            if (metric == NULL) goto done;
        }
        if (metric != Py_None) {
            Py_ssize_t m = sm_index(sm, smidx, metric);
            if (m < 0) goto done;
            sm->col_sm[c] = m;
        }
    }
    pos = 0;
    while (PyDict_Next(counts, &pos, &k, &v)) {
        PyObject *idx = PyDict_GetItemWithError(smidx, k);
        if (idx == NULL) {
            if (PyErr_Occurred()) goto done;
            continue;
        }
        sm->col_is_sm[PyLong_AsSsize_t(v)] = PyLong_AsSsize_t(idx);
    }
    rc = 0;
done:
    Py_XDECREF(smidx);
    return rc;
}

/* {key: (steps bytes, walls bytes, values bytes)} of every buffered row; empties the buffer. */
static PyObject *
Logger_take(Logger *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *out = PyDict_New();
    if (out == NULL || self->nrows == 0) return out;
    Py_ssize_t nschemas = PyList_GET_SIZE(self->schemas);
    /* 1. count points per key (keys may repeat across schemas) */
    PyObject *counts = PyDict_New();  /* key -> column index */
    Py_ssize_t *rows_per_schema = PyMem_Calloc((size_t)nschemas, sizeof(Py_ssize_t));
    if (counts == NULL || rows_per_schema == NULL) goto nomem;
    for (Py_ssize_t r = 0; r < self->nrows; r++) rows_per_schema[self->schema[r]]++;
    Py_ssize_t ncols = 0;
    Py_ssize_t *colsize = NULL;
    Py_ssize_t **colmap = PyMem_Calloc((size_t)nschemas, sizeof(Py_ssize_t *));
    if (colmap == NULL) goto nomem;
    for (Py_ssize_t s = 0; s < nschemas; s++) {
        PyObject *keys = PyList_GET_ITEM(self->schemas, s);
        Py_ssize_t n = PyTuple_GET_SIZE(keys);
        colmap[s] = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t));
        if (colmap[s] == NULL) goto nomem2;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *k = PyTuple_GET_ITEM(keys, j);
            PyObject *idx = PyDict_GetItemWithError(counts, k);
            Py_ssize_t c;
            if (idx == NULL) {
                if (PyErr_Occurred()) goto fail2;
                c = ncols++;
                PyObject *pc = PyLong_FromSsize_t(c);
                if (pc == NULL || PyDict_SetItem(counts, k, pc) < 0) { Py_XDECREF(pc); goto fail2; }
                Py_DECREF(pc);
                Py_ssize_t *ncs = PyMem_Realloc(colsize, (size_t)ncols * sizeof(Py_ssize_t));
                if (ncs == NULL) goto nomem2;
                colsize = ncs;
                colsize[c] = 0;
            } else {
                c = PyLong_AsSsize_t(idx);
            }
            colmap[s][j] = c;
            colsize[c] += rows_per_schema[s];
        }
    }
    /* 2. allocate the columns as bytes objects and fill them */
    PyObject **cs = PyMem_Calloc((size_t)(ncols ? ncols : 1), sizeof(PyObject *));
    PyObject **cw = PyMem_Calloc((size_t)(ncols ? ncols : 1), sizeof(PyObject *));
    PyObject **cv = PyMem_Calloc((size_t)(ncols ? ncols : 1), sizeof(PyObject *));
    Py_ssize_t *fill = PyMem_Calloc((size_t)(ncols ? ncols : 1), sizeof(Py_ssize_t));
    if (cs == NULL || cw == NULL || cv == NULL || fill == NULL) goto nomem3;
    for (Py_ssize_t c = 0; c < ncols; c++) {
        cs[c] = PyBytes_FromStringAndSize(NULL, colsize[c] * (Py_ssize_t)sizeof(int64_t));
        cw[c] = PyBytes_FromStringAndSize(NULL, colsize[c] * (Py_ssize_t)sizeof(double));
        cv[c] = PyBytes_FromStringAndSize(NULL, colsize[c] * (Py_ssize_t)sizeof(double));
        if (!cs[c] || !cw[c] || !cv[c]) goto fail3;
    }
    StepMetrics sm = {NULL, NULL, NULL, NULL, 0};
    if (self->step_of != NULL && ncols > 0 && sm_prepare(self, &sm, counts, ncols) < 0) {
        sm_free(&sm);
        goto fail3;
    }
    Py_ssize_t off = 0;
    for (Py_ssize_t r = 0; r < self->nrows; r++) {
        Py_ssize_t s = self->schema[r];
        Py_ssize_t n = PyTuple_GET_SIZE(PyList_GET_ITEM(self->schemas, s));
        if (sm.col_sm != NULL) {
            for (Py_ssize_t j = 0; j < n; j++) {
                Py_ssize_t m = sm.col_is_sm[colmap[s][j]];
                if (m >= 0) sm.smval[m] = self->values[off + j];
            }
        }
        for (Py_ssize_t j = 0; j < n; j++) {
            Py_ssize_t c = colmap[s][j];
            Py_ssize_t i = fill[c]++;
            int64_t st = self->steps[r];
            if (sm.col_sm != NULL && sm.col_sm[c] >= 0) {
                /* the last value of its step metric, when it is a whole number */
                double x = sm.smval[sm.col_sm[c]];
                if (x == x && x == floor(x) && fabs(x) < 9.0e18) st = (int64_t)x;
            }
            ((int64_t *)PyBytes_AS_STRING(cs[c]))[i] = st;
            ((double *)PyBytes_AS_STRING(cw[c]))[i] = self->walls[r];
            ((double *)PyBytes_AS_STRING(cv[c]))[i] = self->values[off + j];
        }
        off += n;
    }
    for (Py_ssize_t m = 0; m < sm.nsm; m++) {
        if (sm.smval[m] != sm.smval[m]) continue;
        PyObject *x = PyFloat_FromDouble(sm.smval[m]);
        if (x == NULL || PyDict_SetItem(self->sm_last, PyList_GET_ITEM(sm.smkeys, m), x) < 0) {
            Py_XDECREF(x);
            sm_free(&sm);
            goto fail3;
        }
        Py_DECREF(x);
    }
    sm_free(&sm);
    {
        Py_ssize_t pos = 0;
        PyObject *k, *idx;
        while (PyDict_Next(counts, &pos, &k, &idx)) {
            Py_ssize_t c = PyLong_AsSsize_t(idx);
            PyObject *t = PyTuple_Pack(3, cs[c], cw[c], cv[c]);
            if (t == NULL || PyDict_SetItem(out, k, t) < 0) { Py_XDECREF(t); goto fail3; }
            Py_DECREF(t);
        }
    }
    for (Py_ssize_t c = 0; c < ncols; c++) { Py_DECREF(cs[c]); Py_DECREF(cw[c]); Py_DECREF(cv[c]); }
    PyMem_Free(cs); PyMem_Free(cw); PyMem_Free(cv); PyMem_Free(fill);
    for (Py_ssize_t s = 0; s < nschemas; s++) PyMem_Free(colmap[s]);
    PyMem_Free(colmap); PyMem_Free(colsize); PyMem_Free(rows_per_schema);
    Py_DECREF(counts);
    Logger_clear_rows(self);
    return out;

nomem3:
    PyErr_NoMemory();
fail3:
    if (cs && cw && cv) {
        for (Py_ssize_t c = 0; c < ncols; c++) { Py_XDECREF(cs[c]); Py_XDECREF(cw[c]); Py_XDECREF(cv[c]); }
    }
    PyMem_Free(cs); PyMem_Free(cw); PyMem_Free(cv); PyMem_Free(fill);
    goto fail2;
nomem2:
    PyErr_NoMemory();
fail2:
    for (Py_ssize_t s = 0; s < nschemas; s++) PyMem_Free(colmap[s]);
    PyMem_Free(colmap); PyMem_Free(colsize);
    PyMem_Free(rows_per_schema);
    Py_XDECREF(counts);
    Py_DECREF(out);
    return NULL;
nomem:
    PyErr_NoMemory();
    PyMem_Free(rows_per_schema);
    Py_XDECREF(counts);
    Py_DECREF(out);
    return NULL;
}

static PyObject *
Logger_pending(Logger *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->nrows);
}

static PyObject *
Logger_get_points(Logger *self, void *closure)
{
    return PyLong_FromSsize_t(self->nvals);
}

static PyObject *
Logger_get_nbytes(Logger *self, void *closure)
{
    return PyLong_FromSsize_t(Logger_nbytes(self));
}

static PyObject *
Logger_get_full(Logger *self, void *closure)
{
    return PyBool_FromLong(Logger_is_full(self));
}

static PyObject *
Logger_get_bound(Py_ssize_t v)
{
    return PyLong_FromSsize_t(v);
}

static int
Logger_set_bound(Py_ssize_t *field, PyObject *value)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a bound");
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    *field = v > 0 ? v : 0;
    return 0;
}

static PyObject *
Logger_get_max_points(Logger *self, void *closure)
{
    return Logger_get_bound(self->max_points);
}

static int
Logger_set_max_points(Logger *self, PyObject *value, void *closure)
{
    return Logger_set_bound(&self->max_points, value);
}

static PyObject *
Logger_get_max_bytes(Logger *self, void *closure)
{
    return Logger_get_bound(self->max_bytes);
}

static int
Logger_set_max_bytes(Logger *self, PyObject *value, void *closure)
{
    return Logger_set_bound(&self->max_bytes, value);
}

static PyObject *
Logger_get_step(Logger *self, void *closure)
{
    return PyLong_FromLongLong(self->step);
}

static int
Logger_set_step(Logger *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete step");
        return -1;
    }
    long long s = PyLong_AsLongLong(value);
    if (s == -1 && PyErr_Occurred()) return -1;
    self->step = s;
    return 0;
}

static PyObject *
Logger_set_step_metrics(Logger *self, PyObject *args)
{
    PyObject *step_of, *resolve, *sm_last;
    if (!PyArg_ParseTuple(args, "OOO", &step_of, &resolve, &sm_last)) return NULL;
    if (step_of == Py_None) {
        Py_CLEAR(self->step_of);
        Py_CLEAR(self->resolve);
        Py_CLEAR(self->sm_last);
        Py_RETURN_NONE;
    }
    if (!PyDict_CheckExact(step_of) || !PyDict_CheckExact(sm_last) || !PyCallable_Check(resolve)) {
        PyErr_SetString(PyExc_TypeError,
                        "set_step_metrics(step_of: dict, resolve: callable, last: dict)");
        return NULL;
    }
    Py_INCREF(step_of);
    Py_INCREF(resolve);
    Py_INCREF(sm_last);
    Py_XSETREF(self->step_of, step_of);
    Py_XSETREF(self->resolve, resolve);
    Py_XSETREF(self->sm_last, sm_last);
    Py_RETURN_NONE;
}

static PyMethodDef Logger_methods[] = {
    {"log", (PyCFunction)(void (*)(void))Logger_log, METH_FASTCALL | METH_KEYWORDS,
     "log(data, step=None, commit=None): buffer one row of metrics."},
    {"take", (PyCFunction)Logger_take, METH_NOARGS,
     "take() -> {key: (steps, walls, values)} as int64/float64 bytes; empties the buffer."},
    {"pending", (PyCFunction)Logger_pending, METH_NOARGS, "number of buffered rows"},
    {"set_step_metrics", (PyCFunction)Logger_set_step_metrics, METH_VARARGS,
     "set_step_metrics(step_of, resolve, last): take() moves the points of a key with a step "
     "metric (step_of[key], or resolve(key) for a new key) to that metric's last value "
     "(kept in last); set_step_metrics(None, None, None) turns it off."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Logger_getset[] = {
    {"step", (getter)Logger_get_step, (setter)Logger_set_step, "next automatic step", NULL},
    {"points", (getter)Logger_get_points, NULL, "number of buffered values", NULL},
    {"nbytes", (getter)Logger_get_nbytes, NULL, "bytes the buffered rows take", NULL},
    {"full", (getter)Logger_get_full, NULL, "whether the buffer holds its bound", NULL},
    {"max_points", (getter)Logger_get_max_points, (setter)Logger_set_max_points,
     "bound on buffered values (0: none)", NULL},
    {"max_bytes", (getter)Logger_get_max_bytes, (setter)Logger_set_max_bytes,
     "bound on buffered bytes (0: none)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LoggerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "expbook._speedups.Logger",
    .tp_basicsize = sizeof(Logger),
    .tp_dealloc = (destructor)Logger_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The buffered logging hot path of a run.",
    .tp_methods = Logger_methods,
    .tp_getset = Logger_getset,
    .tp_init = (initproc)Logger_init,
    .tp_new = PyType_GenericNew,
};

/* encode_chunk(steps, walls, values) -> bytes: the chunk blob of expbook.store.codec
 * (version 1), the same bytes as codec.encode's pure-Python path, for lists (or tuples) of
 * Python numbers. The writer thread encodes every chunk it stores with it; the compress of
 * isal.isal_zlib or else zlib (looked up at import) does the compression. Built only on
 * little-endian machines, where the in-memory layout of int64/float32/float64 is the
 * stored one. */
static PyObject *zlib_compress;

static PyObject *
encode_chunk(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "encode_chunk(steps, walls, values)");
        return NULL;
    }
    PyObject *fs = NULL, *fw = NULL, *fv = NULL, *body = NULL, *packed = NULL, *out = NULL;
    fs = PySequence_Fast(args[0], "steps must be a sequence");
    if (fs == NULL) goto done;
    fw = PySequence_Fast(args[1], "walls must be a sequence");
    if (fw == NULL) goto done;
    fv = PySequence_Fast(args[2], "values must be a sequence");
    if (fv == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fs);
    if (PySequence_Fast_GET_SIZE(fw) != n || PySequence_Fast_GET_SIZE(fv) != n) {
        PyErr_SetString(PyExc_ValueError, "steps, walls and values differ in length");
        goto done;
    }
    if ((unsigned long long)n > 0xFFFFFFFFull) {
        PyErr_SetString(PyExc_OverflowError, "too many points for one chunk");
        goto done;
    }
    body = PyBytes_FromStringAndSize(NULL, 20 * n);
    if (body == NULL) goto done;
    char *p = PyBytes_AS_STRING(body);
    PyObject **s_items = PySequence_Fast_ITEMS(fs);
    PyObject **w_items = PySequence_Fast_ITEMS(fw);
    PyObject **v_items = PySequence_Fast_ITEMS(fv);
    /* steps, delta-encoded (the first one as it is) */
    int64_t prev = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long st = PyLong_AsLongLong(s_items[i]);
        if (st == -1 && PyErr_Occurred()) goto done;
        int64_t d = i == 0 ? (int64_t)st : (int64_t)((uint64_t)st - (uint64_t)prev);
        prev = (int64_t)st;
        memcpy(p + 8 * i, &d, 8);
    }
    /* wall times: float32 offsets from the first known one */
    double wall0 = 0.0;
    int have0 = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double w = PyFloat_AsDouble(w_items[i]);
        if (w == -1.0 && PyErr_Occurred()) goto done;
        if (!have0 && w == w) {
            wall0 = w;
            have0 = 1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double w = PyFloat_AsDouble(w_items[i]);
        float off = (float)(w - wall0);
        memcpy(p + 8 * n + 4 * i, &off, 4);
    }
    /* values, bit-exact */
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = PyFloat_AsDouble(v_items[i]);
        if (v == -1.0 && PyErr_Occurred()) goto done;
        memcpy(p + 12 * n + 8 * i, &v, 8);
    }
    PyObject *level = PyLong_FromLong(1);
    if (level == NULL) goto done;
    PyObject *cargs[2] = {body, level};
    packed = PyObject_Vectorcall(zlib_compress, cargs, 2, NULL);
    Py_DECREF(level);
    if (packed == NULL) goto done;
    if (!PyBytes_Check(packed)) {
        PyErr_SetString(PyExc_TypeError, "zlib.compress returned no bytes");
        goto done;
    }
    Py_ssize_t clen = PyBytes_GET_SIZE(packed);
    out = PyBytes_FromStringAndSize(NULL, 13 + clen);
    if (out == NULL) goto done;
    char *q = PyBytes_AS_STRING(out);
    uint32_t n32 = (uint32_t)n;
    q[0] = 1; /* version */
    memcpy(q + 1, &n32, 4);
    memcpy(q + 5, &wall0, 8);
    memcpy(q + 13, PyBytes_AS_STRING(packed), clen);
done:
    Py_XDECREF(fs);
    Py_XDECREF(fw);
    Py_XDECREF(fv);
    Py_XDECREF(body);
    Py_XDECREF(packed);
    return out;
}

/* decode_body(raw, n, wall0) -> (steps, walls, values): the inflated body of a chunk blob
 * (version 1) as three lists of Python numbers, as codec.decode_lists's Python path makes
 * them: steps summed from their deltas (modulo 2**64, as encode_chunk took them), walls as
 * wall0 plus the float32 offset, values bit for bit. `raw` must hold exactly 20 * n bytes. */
static PyObject *
decode_body(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "decode_body(raw: bytes, n, wall0)");
        return NULL;
    }
    Py_ssize_t n = PyLong_AsSsize_t(args[1]);
    if (n == -1 && PyErr_Occurred()) return NULL;
    double wall0 = PyFloat_AsDouble(args[2]);
    if (wall0 == -1.0 && PyErr_Occurred()) return NULL;
    if (n < 0 || n > PY_SSIZE_T_MAX / 20 || PyBytes_GET_SIZE(args[0]) != 20 * n) {
        PyErr_Format(PyExc_ValueError, "chunk body holds %zd bytes, not %zd for %zd points",
                     PyBytes_GET_SIZE(args[0]), 20 * n, n);
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(args[0]);
    PyObject *steps = PyList_New(n), *walls = PyList_New(n), *values = PyList_New(n);
    if (steps == NULL || walls == NULL || values == NULL) goto fail;
    uint64_t acc = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t d;
        memcpy(&d, p + 8 * i, 8);
        acc += (uint64_t)d;
        PyObject *o = PyLong_FromLongLong((long long)(int64_t)acc);
        if (o == NULL) goto fail;
        PyList_SET_ITEM(steps, i, o);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        float off;
        memcpy(&off, p + 8 * n + 4 * i, 4);
        PyObject *o = PyFloat_FromDouble(wall0 + (double)off);
        if (o == NULL) goto fail;
        PyList_SET_ITEM(walls, i, o);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, p + 12 * n + 8 * i, 8);
        PyObject *o = PyFloat_FromDouble(v);
        if (o == NULL) goto fail;
        PyList_SET_ITEM(values, i, o);
    }
    PyObject *out = PyTuple_New(3);
    if (out == NULL) goto fail;
    PyTuple_SET_ITEM(out, 0, steps);
    PyTuple_SET_ITEM(out, 1, walls);
    PyTuple_SET_ITEM(out, 2, values);
    return out;
fail:
    Py_XDECREF(steps);
    Py_XDECREF(walls);
    Py_XDECREF(values);
    return NULL;
}

/* sketch_indices(values, width) -> list of int: the sketch of a chunk (expbook.store.sketch),
 * the same indices as sketch_indices_python and sketch_indices_numpy. `values` is a list or
 * tuple of Python numbers (the logging path) or a 1-d C-contiguous buffer of native float64
 * (a numpy array: the readers, the importers, the server); anything else raises TypeError,
 * and the caller falls back to Python. Of each group of `width` consecutive points it keeps
 * the first minimum, the first maximum (NaN ignored, infinities count, -0.0 == 0.0) and the
 * last point, plus point 0; sorted, without repeats. */
static PyObject *
sketch_of(const double *v, Py_ssize_t n, Py_ssize_t width)
{
    if (n == 0) return PyList_New(0);
    Py_ssize_t groups = n / width + (n % width != 0);
    Py_ssize_t *idx = PyMem_Malloc((size_t)(3 * groups + 1) * sizeof(Py_ssize_t));
    if (idx == NULL) return PyErr_NoMemory();
    Py_ssize_t k = 0;
    idx[k++] = 0;
    for (Py_ssize_t lo = 0; lo < n; ) {
        Py_ssize_t hi = width < n - lo ? lo + width : n;
        Py_ssize_t imin = -1, imax = -1;
        double vmin = 0.0, vmax = 0.0;
        for (Py_ssize_t i = lo; i < hi; i++) {
            double x = v[i];
            if (x != x) continue; /* NaN */
            if (imin < 0) {
                imin = imax = i;
                vmin = vmax = x;
                continue;
            }
            /* strict comparisons: the first of equal values stays (-0.0 == 0.0 included) */
            if (x < vmin) {
                vmin = x;
                imin = i;
            }
            else if (x > vmax) {
                vmax = x;
                imax = i;
            }
        }
        /* the candidates in increasing order: imin and imax (either may come first) and
         * hi - 1, the largest; keep those past the last one kept */
        Py_ssize_t c[3];
        int m = 0;
        if (imin >= 0) {
            c[m++] = imin < imax ? imin : imax;
            c[m++] = imin < imax ? imax : imin;
        }
        c[m++] = hi - 1;
        for (int j = 0; j < m; j++) {
            if (c[j] > idx[k - 1]) idx[k++] = c[j];
        }
        lo = hi;
    }
    PyObject *out = PyList_New(k);
    if (out != NULL) {
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *o = PyLong_FromSsize_t(idx[j]);
            if (o == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, j, o);
        }
    }
    PyMem_Free(idx);
    return out;
}

static int
is_native_double(const char *format)
{
    if (format == NULL) return 0; /* no format: unsigned bytes */
    if (format[0] == '@' || format[0] == '=') format++;
#if PY_LITTLE_ENDIAN
    else if (format[0] == '<') format++;
#else
    else if (format[0] == '>' || format[0] == '!') format++;
#endif
    return format[0] == 'd' && format[1] == '\0';
}

static PyObject *
sketch_indices(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "sketch_indices(values, width)");
        return NULL;
    }
    Py_ssize_t width = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (width == -1 && PyErr_Occurred()) return NULL;
    if (width < 1) {
        PyErr_SetString(PyExc_ValueError, "width must be at least 1");
        return NULL;
    }
    PyObject *obj = args[0];
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        Py_ssize_t n = Py_SIZE(obj);
        double *v = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(double));
        if (v == NULL) return PyErr_NoMemory();
        PyObject **items = PySequence_Fast_ITEMS(obj);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *x = items[i];
            if (PyFloat_CheckExact(x)) {
                v[i] = PyFloat_AS_DOUBLE(x);
                continue;
            }
            /* an int or an object with __float__: its code may change the list */
            Py_INCREF(x);
            v[i] = PyFloat_AsDouble(x);
            Py_DECREF(x);
            if (v[i] == -1.0 && PyErr_Occurred()) {
                PyMem_Free(v);
                return NULL;
            }
            if (Py_SIZE(obj) != n) {
                PyMem_Free(v);
                PyErr_SetString(PyExc_RuntimeError, "values changed size during sketch_indices");
                return NULL;
            }
            items = PySequence_Fast_ITEMS(obj);
        }
        PyObject *out = sketch_of(v, n, width);
        PyMem_Free(v);
        return out;
    }
    if (PyObject_CheckBuffer(obj)) {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "sketch_indices: %.200s is not a contiguous buffer",
                         Py_TYPE(obj)->tp_name);
            return NULL;
        }
        if (view.ndim != 1 || view.itemsize != (Py_ssize_t)sizeof(double)
            || !is_native_double(view.format)) {
            PyBuffer_Release(&view);
            PyErr_Format(PyExc_TypeError,
                         "sketch_indices: %.200s is not a 1-d buffer of float64",
                         Py_TYPE(obj)->tp_name);
            return NULL;
        }
        PyObject *out = sketch_of((const double *)view.buf, view.shape[0], width);
        PyBuffer_Release(&view);
        return out;
    }
    PyErr_Format(PyExc_TypeError,
                 "sketch_indices: values must be a list or a float64 buffer, not %.200s",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"encode_chunk", (PyCFunction)(void (*)(void))encode_chunk, METH_FASTCALL,
     "encode_chunk(steps, walls, values) -> bytes: a chunk blob (expbook.store.codec)"},
    {"decode_body", (PyCFunction)(void (*)(void))decode_body, METH_FASTCALL,
     "decode_body(raw, n, wall0) -> (steps, walls, values): an inflated chunk body as lists "
     "(expbook.store.codec)"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef sketch_methods[] = {
    {"sketch_indices", (PyCFunction)(void (*)(void))sketch_indices, METH_FASTCALL,
     "sketch_indices(values, width) -> list of int: the sketch of a chunk "
     "(expbook.store.sketch)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "C hot paths of expbook: Run.log, chunk encoding and chunk sketches.", -1, sketch_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&LoggerType) < 0) return NULL;
    str_step = PyUnicode_InternFromString("step");
    if (str_step == NULL) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&LoggerType);
    if (PyModule_AddObject(m, "Logger", (PyObject *)&LoggerType) < 0) {
        Py_DECREF(&LoggerType);
        Py_DECREF(m);
        return NULL;
    }
    const uint16_t one = 1;
    if (*(const uint8_t *)&one == 1) { /* little-endian: the stored layout */
        /* ISA-L's zlib (the isal package) when installed: the same zlib streams, written
         * 3-4x faster at level 1; else the standard library's (codec.py picks the same) */
        PyObject *zlib = PyImport_ImportModule("isal.isal_zlib");
        if (zlib == NULL) {
            PyErr_Clear();
            zlib = PyImport_ImportModule("zlib");
        }
        if (zlib == NULL) {
            Py_DECREF(m);
            return NULL;
        }
        zlib_compress = PyObject_GetAttrString(zlib, "compress");
        Py_DECREF(zlib);
        if (zlib_compress == NULL || PyModule_AddFunctions(m, module_methods) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
