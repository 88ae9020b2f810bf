/* The portable sampler's hottest loops, each one pass over memory instead of numpy's one pass
 * per operation. Python's C API and the buffer protocol only: no numpy headers, so building needs
 * nothing but a C compiler. Each loop repeats, operation for operation and rounding for rounding,
 * the numpy (or Arrow) code it stands in for, which stays beside its call as the path of a machine
 * without this module (synth_ops/sampler/kernels.py lists them; tests/test_kernels.py compares the bits),
 * so such a machine samples the same rows. Built with -ffp-contract=off: a fused multiply-add
 * would round once where numpy rounds twice. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define SIGN_BIT 0x8000000000000000ULL
#define CELL_SHIFT 44 /* 52 - normals.CELL_BITS */

enum { OP_CLIP = 1, OP_ROUND = 2, OP_FLOOR = 3, OP_SCALE = 4 };

/* 'd' float64, 'q' int64, 'Q' uint64, 'i' int32; 0 where the buffer is none of them */
static char kind_of(const Py_buffer *view) {
    const char *format = view->format ? view->format : "B";
    if (*format == '<' || *format == '=' || *format == '@')
        format++;
    int integer = strcmp(format, "q") == 0 || strcmp(format, "l") == 0 || strcmp(format, "i") == 0;
    if (view->itemsize == 4)
        return integer ? 'i' : 0;
    if (view->itemsize != 8)
        return 0;
    if (strcmp(format, "d") == 0)
        return 'd';
    if (integer)
        return 'q';
    return strcmp(format, "Q") == 0 || strcmp(format, "L") == 0 ? 'Q' : 0;
}

static const char *kind_name(const char *kinds) {
    if (strcmp(kinds, "dq") == 0)
        return "float64 or int64";
    return *kinds == 'Q' ? "uint64" : (*kinds == 'i' ? "int32" : "float64");
}

/* kinds: the kinds accepted ("d", or "dq" for either) */
static int take_buffer(PyObject *obj, Py_buffer *view, int writable, const char *name, const char *kinds) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)))
        return -1;
    char kind = kind_of(view);
    if (!kind || !strchr(kinds, kind)) {
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous %s array", name, kind_name(kinds));
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void release(Py_buffer *views, int count) {
    for (int i = 0; i < count; i++)
        PyBuffer_Release(&views[i]);
}

static double bits_to_double(uint64_t bits) {
    double value;
    memcpy(&value, &bits, 8);
    return value;
}

static uint64_t double_to_bits(double value) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    return bits;
}

/* One draw from the uniform u (normals.NormalDraws' passes after the uniforms). */
static inline double normal_of_uniform(double u, const double *intercepts, const double *slopes, int64_t last) {
    uint64_t bits = double_to_bits(u - 0.5); /* exact: u is a multiple of 2^-53 */
    uint64_t sign = bits & SIGN_BIT;
    double p = 0.5 - bits_to_double(bits & ~SIGN_BIT); /* the share beyond the draw */
    int64_t key = (int64_t)(double_to_bits(p) >> CELL_SHIFT);
    key = key < 0 ? 0 : (key > last ? last : key); /* numpy's take(mode="clip") */
    double z = slopes[key] * p;
    z = z + intercepts[key];
    return bits_to_double(double_to_bits(z) ^ sign);
}

static int normal_tables(PyObject *const *args, Py_buffer *views) {
    if (take_buffer(args[0], &views[0], 0, "intercepts", "d"))
        return -1;
    if (take_buffer(args[1], &views[1], 0, "slopes", "d")) {
        release(views, 1);
        return -1;
    }
    if (views[0].len != views[1].len || views[0].len == 0) {
        release(views, 2);
        PyErr_SetString(PyExc_ValueError, "intercepts and slopes must be non-empty and of one length");
        return -1;
    }
    return 0;
}

static inline uint64_t rotate_left(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* sfc64_normal_scores(out, state, intercepts, slopes): fills ``out`` with the draws of the uniforms
 * numpy's SFC64 with state words ``state`` (uint64[4], advanced in place) would give to
 * Generator.random: numpy's sfc64_next and its next_double (the top 53 bits times 2^-53), inline,
 * instead of a call through the bit generator's function pointer and a pass over memory. */
static PyObject *sfc64_normal_scores(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer views[4];
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "sfc64_normal_scores(out, state, intercepts, slopes)");
        return NULL;
    }
    if (take_buffer(args[0], &views[0], 1, "out", "d"))
        return NULL;
    if (take_buffer(args[1], &views[1], 1, "state", "Q")) {
        release(views, 1);
        return NULL;
    }
    if (views[1].len != 32) {
        release(views, 2);
        PyErr_SetString(PyExc_ValueError, "state must hold SFC64's 4 words");
        return NULL;
    }
    if (normal_tables(args + 2, views + 2)) {
        release(views, 2);
        return NULL;
    }
    double *out = views[0].buf;
    uint64_t *words = views[1].buf;
    const double *intercepts = views[2].buf, *slopes = views[3].buf;
    Py_ssize_t count = views[0].len / 8;
    int64_t last = views[2].len / 8 - 1;
    uint64_t a = words[0], b = words[1], c = words[2], counter = words[3];
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t next = a + b + counter++;
        a = b ^ (b >> 11);
        b = c + (c << 3);
        c = rotate_left(c, 24) + next;
        out[i] = normal_of_uniform((double)(next >> 11) * (1.0 / 9007199254740992.0), intercepts, slopes, last);
    }
    Py_END_ALLOW_THREADS
    words[0] = a, words[1] = b, words[2] = c, words[3] = counter;
    release(views, 4);
    Py_RETURN_NONE;
}

/* normal_scores(u, intercepts, slopes): uniforms in [0, 1) become standard normal draws, in place
 * (normals.NormalDraws' passes, fused), for bit generators other than SFC64. */
static PyObject *normal_scores(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer views[3];
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "normal_scores(u, intercepts, slopes)");
        return NULL;
    }
    if (take_buffer(args[0], &views[0], 1, "u", "d"))
        return NULL;
    if (normal_tables(args + 1, views + 1)) {
        release(views, 1);
        return NULL;
    }
    double *u = views[0].buf;
    const double *intercepts = views[1].buf, *slopes = views[2].buf;
    Py_ssize_t count = views[0].len / 8;
    int64_t last = views[1].len / 8 - 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++)
        u[i] = normal_of_uniform(u[i], intercepts, slopes, last);
    Py_END_ALLOW_THREADS
    release(views, 3);
    Py_RETURN_NONE;
}

#define TWO_52 4503599627370496.0

/* rint in the default rounding mode (to nearest, ties to even), as numpy's: below 2^52 adding and
 * subtracting 2^52 leaves the nearest whole number; from 2^52 up every double is whole; NaN and
 * the infinities pass; the sign is kept (rint(-0.3) is -0.0). GCC's own inline rint for x86-64
 * without SSE4.1 costs about 2 ns more a value. */
static inline double round_to_whole(double x) {
    double magnitude = fabs(x);
    if (magnitude < TWO_52)
        return copysign((magnitude + TWO_52) - TWO_52, x);
    return x;
}

/* numpy's power_of_ten (multiarray/calculation.c), which np.round scales by */
static double power_of_ten(int n) {
    static const double small[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    if (n < 9)
        return small[n];
    double value = 1e9;
    while (n-- > 9)
        value *= 10.;
    return value;
}

/* grid_values(z, table, steps, grid_z, ops, out, whole): decoders.lookup of each score on the
 * table, then the ops (rows of [code, a, b]: clip to [a, b], round to a digits, floor, scale by
 * a). A float64 ``out`` takes the values. An int64 ``out`` takes what arrow_columns does to them
 * for an integer column: rint unless ``whole`` (the ops leave whole numbers already), NaN as 0,
 * then the conversion; values beyond int64's range become its least value, as numpy's
 * conversion gives on x86. Returns how many values were NaN. */
static PyObject *grid_values(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer views[5];
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "grid_values(z, table, steps, grid_z, ops, out, whole)");
        return NULL;
    }
    double grid_z = PyFloat_AsDouble(args[3]);
    if (grid_z == -1.0 && PyErr_Occurred())
        return NULL;
    int whole = PyObject_IsTrue(args[6]);
    if (whole < 0)
        return NULL;
    static const char *names[] = {"z", "table", "steps", "ops", "out"};
    PyObject *objects[] = {args[0], args[1], args[2], args[4], args[5]};
    for (int i = 0; i < 5; i++) {
        if (take_buffer(objects[i], &views[i], i == 4, names[i], i == 4 ? "dq" : "d")) {
            release(views, i);
            return NULL;
        }
    }
    Py_ssize_t count = views[0].len / 8, points = views[1].len / 8, op_count = views[3].len / 24;
    const char *problem = NULL;
    if (points < 2 || views[2].len / 8 != points - 1)
        problem = "the table needs at least 2 points and steps one fewer";
    else if (views[4].len != views[0].len)
        problem = "out must have as many values as z";
    else if (views[3].len % 24)
        problem = "ops must be rows of [code, a, b]";
    else if (!(grid_z > 0))
        problem = "grid_z must be positive";
    const double *ops = views[3].buf;
    /* the ops checked and decoded once: code, and for a round its scale (1 for 0 digits) */
    int codes[16];
    double factors[16];
    if (!problem && op_count > 16)
        problem = "at most 16 operations";
    for (Py_ssize_t k = 0; !problem && k < op_count; k++) {
        double code = ops[3 * k], digits = ops[3 * k + 1];
        if (code != OP_CLIP && code != OP_ROUND && code != OP_FLOOR && code != OP_SCALE)
            problem = "unknown operation code";
        else if (code == OP_ROUND && !(fabs(digits) < 300 && digits == floor(digits)))
            problem = "round needs whole digits";
        else if (code == OP_ROUND) {
            factors[k] = power_of_ten((int)fabs(digits));
            codes[k] = digits < 0 ? -OP_ROUND : OP_ROUND; /* -OP_ROUND: divide, round, multiply */
        } else
            codes[k] = (int)code;
    }
    if (problem) {
        release(views, 5);
        PyErr_SetString(PyExc_ValueError, problem);
        return NULL;
    }
    const double *z = views[0].buf, *table = views[1].buf, *steps = views[2].buf;
    double *out = kind_of(&views[4]) == 'd' ? views[4].buf : NULL;
    int64_t *integers = out ? NULL : views[4].buf;
    Py_ssize_t nans = 0;
    double scale = (double)(points - 1) / (2 * grid_z); /* Python's (points - 1) / (2 * grid_z) */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        double x = z[i];
        if (x == x) { /* a NaN score (numpy's lookup fails on it) stays NaN: no cell to read */
            x = x < -grid_z ? -grid_z : x;
            x = x > grid_z ? grid_z : x;
            x += grid_z;
            x *= scale;
            Py_ssize_t cell = (Py_ssize_t)x;
            cell = cell > points - 2 ? points - 2 : (cell < 0 ? 0 : cell);
            x -= (double)cell;
            x *= steps[cell];
            x += table[cell];
        }
        for (Py_ssize_t k = 0; k < op_count; k++) {
            const double *op = ops + 3 * k;
            switch (codes[k]) {
            case OP_CLIP:
                x = x < op[1] ? op[1] : x;
                x = x > op[2] ? op[2] : x;
                break;
            case OP_ROUND: /* np.round: scale, rint, unscale; by 1 (0 digits) both are exact */
                x = factors[k] == 1.0 ? round_to_whole(x) : round_to_whole(x * factors[k]) / factors[k];
                break;
            case -OP_ROUND:
                x = round_to_whole(x / factors[k]) * factors[k];
                break;
            case OP_FLOOR:
                x = floor(x);
                break;
            default: /* OP_SCALE */
                x = x * op[1];
            }
        }
        if (out) {
            nans += x != x;
            out[i] = x;
        } else if (x != x) {
            nans++;
            integers[i] = 0;
        } else {
            x = whole ? x : round_to_whole(x);
            /* -2^63 <= x < 2^63; numpy's x86 conversion gives the least value otherwise */
            integers[i] = x >= -9223372036854775808.0 && x < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
        }
    }
    Py_END_ALLOW_THREADS
    release(views, 5);
    return PyLong_FromSsize_t(nans);
}

/* grid_cell_codes(z, grid_z, points, split, cell_codes, out): category_codes.GridCodes' codes of the
 * scores z: each score's grid position (decoders.grid_position's arithmetic) times ``split``, its
 * cell's code from ``cell_codes`` (int32; -1 where a bound crosses the cell) into ``out`` (int32).
 * Returns how many rows took -1 (the caller interpolates and searches those). */
static PyObject *grid_cell_codes(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer views[3];
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "grid_cell_codes(z, grid_z, points, split, cell_codes, out)");
        return NULL;
    }
    double grid_z = PyFloat_AsDouble(args[1]);
    if (grid_z == -1.0 && PyErr_Occurred())
        return NULL;
    Py_ssize_t points = PyLong_AsSsize_t(args[2]);
    if (points == -1 && PyErr_Occurred())
        return NULL;
    double split = PyFloat_AsDouble(args[3]);
    if (split == -1.0 && PyErr_Occurred())
        return NULL;
    if (take_buffer(args[0], &views[0], 0, "z", "d"))
        return NULL;
    if (take_buffer(args[4], &views[1], 0, "cell_codes", "i")) {
        release(views, 1);
        return NULL;
    }
    if (take_buffer(args[5], &views[2], 1, "out", "i")) {
        release(views, 2);
        return NULL;
    }
    const char *problem = NULL;
    Py_ssize_t count = views[0].len / 8, cells = views[1].len / 4;
    if (views[2].len / 4 != count)
        problem = "out must have as many values as z";
    else if (cells < 1 || points < 2 || !(grid_z > 0) || !(split >= 1))
        problem = "a grid needs cells, 2 points, a positive grid_z and a split of at least 1";
    if (problem) {
        release(views, 3);
        PyErr_SetString(PyExc_ValueError, problem);
        return NULL;
    }
    const double *z = views[0].buf;
    const int32_t *cell_codes = views[1].buf;
    int32_t *out = views[2].buf;
    double scale = (double)(points - 1) / (2 * grid_z);
    Py_ssize_t unresolved = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        double x = z[i];
        if (x != x) { /* no cell: left to the caller's interpolation, as a crossed cell */
            out[i] = -1;
            unresolved++;
            continue;
        }
        x = x < -grid_z ? -grid_z : x;
        x = x > grid_z ? grid_z : x;
        x += grid_z;
        x *= scale;
        x *= split; /* exact: a power of 2 */
        Py_ssize_t cell = (Py_ssize_t)x;
        cell = cell > cells - 1 ? cells - 1 : cell;
        out[i] = cell_codes[cell];
        unresolved += out[i] < 0;
    }
    Py_END_ALLOW_THREADS
    release(views, 3);
    return PyLong_FromSsize_t(unresolved);
}

#define SHORT_TEXT 16

/* take_text(codes, dictionary_offsets, dictionary_data, missing): the text of ``codes`` (int32
 * positions in a string dictionary given by its int32 offsets and its bytes) as (offsets, data)
 * bytearrays of an Arrow string array, empty where ``missing`` (bool, or None); None when the text
 * would not fit int32 offsets. Arrow's ``take`` of a string array, without its per-row dispatch. */
static PyObject *take_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer views[4];
    int have_missing = nargs == 4 && args[3] != Py_None;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "take_text(codes, dictionary_offsets, dictionary_data, missing)");
        return NULL;
    }
    PyObject *objects[] = {args[0], args[1], args[2], args[3]};
    int taken = 0;
    for (; taken < 3 + have_missing; taken++)
        if (PyObject_GetBuffer(objects[taken], &views[taken], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT))
            break;
    if (taken < 3 + have_missing) {
        release(views, taken);
        return NULL;
    }
    Py_ssize_t rows = views[0].len / (views[0].itemsize ? views[0].itemsize : 1);
    Py_ssize_t entries = views[1].len / 4 - 1;
    const char *problem = NULL;
    if (views[0].itemsize != 4 || views[1].itemsize != 4)
        problem = "codes and dictionary_offsets must be int32 arrays";
    else if (entries < 1)
        problem = "the dictionary needs at least one entry";
    else if (have_missing && (views[3].itemsize != 1 || views[3].len != rows))
        problem = "missing must be a bool array as long as codes";
    const int32_t *codes = views[0].buf, *entry_offsets = views[1].buf;
    const char *entry_data = views[2].buf;
    Py_ssize_t data_length = views[2].len;
    const unsigned char *missing = have_missing ? views[3].buf : NULL;
    for (Py_ssize_t k = 0; !problem && k < entries; k++)
        if (entry_offsets[k] < 0 || entry_offsets[k + 1] < entry_offsets[k] || entry_offsets[k + 1] > views[2].len)
            problem = "dictionary_offsets do not fit dictionary_data";
    for (Py_ssize_t i = 0; !problem && i < rows; i++)
        if (codes[i] < 0 || codes[i] >= entries)
            problem = "a code is not a dictionary position";
    if (problem) {
        release(views, 3 + have_missing);
        PyErr_SetString(PyExc_ValueError, problem);
        return NULL;
    }
    PyObject *offsets_object = PyByteArray_FromStringAndSize(NULL, (rows + 1) * 4);
    if (!offsets_object) {
        release(views, 3 + have_missing);
        return NULL;
    }
    int32_t *offsets = (int32_t *)PyByteArray_AS_STRING(offsets_object);
    int64_t total = 0;
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < rows && total < INT32_MAX; i++) {
        if (!missing || !missing[i])
            total += entry_offsets[codes[i] + 1] - entry_offsets[codes[i]];
        offsets[i + 1] = (int32_t)(total < INT32_MAX ? total : 0);
    }
    if (total >= INT32_MAX) {
        release(views, 3 + have_missing);
        Py_DECREF(offsets_object);
        Py_RETURN_NONE;
    }
    /* 16 bytes of slack: a short entry is copied as one 16-byte block (the next row's bytes then
     * overwrite the excess), not by a memcpy call a row */
    PyObject *data_object = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)total + SHORT_TEXT);
    if (!data_object) {
        release(views, 3 + have_missing);
        Py_DECREF(offsets_object);
        return NULL;
    }
    char *data = PyByteArray_AS_STRING(data_object);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < rows; i++) {
        int32_t width = offsets[i + 1] - offsets[i];
        const char *entry = entry_data + entry_offsets[codes[i]];
        if (width > SHORT_TEXT || entry_offsets[codes[i]] + SHORT_TEXT > data_length)
            memcpy(data + offsets[i], entry, (size_t)width);
        else if (width)
            memcpy(data + offsets[i], entry, SHORT_TEXT); /* a fixed size: one load and store */
    }
    Py_END_ALLOW_THREADS
    release(views, 3 + have_missing);
    if (PyByteArray_Resize(data_object, (Py_ssize_t)total)) { /* the slack off: same size as Arrow's */
        Py_DECREF(offsets_object);
        Py_DECREF(data_object);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, offsets_object, data_object);
    Py_DECREF(offsets_object);
    Py_DECREF(data_object);
    return pair;
}

static PyMethodDef methods[] = {
    {"take_text", (PyCFunction)(void (*)(void))take_text, METH_FASTCALL,
     "take_text(codes, dictionary_offsets, dictionary_data, missing): (offsets, data) of the codes' text"},
    {"grid_cell_codes", (PyCFunction)(void (*)(void))grid_cell_codes, METH_FASTCALL,
     "grid_cell_codes(z, grid_z, points, split, cell_codes, out): category codes by grid cell; "
     "returns how many cells a bound crosses"},
    {"normal_scores", (PyCFunction)(void (*)(void))normal_scores, METH_FASTCALL,
     "normal_scores(u, intercepts, slopes): uniforms to standard normals, in place"},
    {"sfc64_normal_scores", (PyCFunction)(void (*)(void))sfc64_normal_scores, METH_FASTCALL,
     "sfc64_normal_scores(out, state, intercepts, slopes): SFC64's next uniforms as standard normals"},
    {"grid_values", (PyCFunction)(void (*)(void))grid_values, METH_FASTCALL,
     "grid_values(z, table, steps, grid_z, ops, out, whole): tabulated inverse CDF, then clip/round/floor/scale; "
     "returns the count of NaN values"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "synth_ops.sampler._kernels", NULL, 0, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModuleDef_Init(&module); }
