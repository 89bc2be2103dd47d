/* Python extension toolchain.frontend._frontend: the C audio frontend (firmware/frontend) on the
 * host. Tables come from Python (toolchain.frontend.tables) as buffers; batches run without the GIL.
 * Plain buffer protocol, no NumPy C API. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "tml_frontend.h"

#define NUM_TABLES 8

typedef struct {
    tml_frontend_config cfg;
    Py_buffer views[NUM_TABLES];
    int num_views;
} frontend_handle;

static const char *CAPSULE_NAME = "toolchain.frontend._frontend.config";

static void handle_free(frontend_handle *h)
{
    for (int i = 0; i < h->num_views; ++i) {
        PyBuffer_Release(&h->views[i]);
    }
    PyMem_Free(h);
}

static void capsule_destructor(PyObject *capsule)
{
    frontend_handle *h = (frontend_handle *)PyCapsule_GetPointer(capsule, CAPSULE_NAME);
    if (h != NULL) {
        handle_free(h);
    }
}

/* Format code of a buffer, ignoring byte-order prefixes for native order. */
static char buffer_kind(const Py_buffer *view)
{
    const char *f = view->format ? view->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') {
        f++;
    }
    return f[1] == '\0' ? f[0] : '?';
}

static int get_table(PyObject *obj, Py_buffer *view, char kind, Py_ssize_t count, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        return -1;
    }
    const Py_ssize_t n = view->itemsize ? view->len / view->itemsize : 0;
    if (buffer_kind(view) != kind || n != count) {
        PyErr_Format(PyExc_ValueError, "table %s: expected %zd items of format '%c', got %zd of '%s'",
                     name, count, kind, n, view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *make_config(PyObject *self, PyObject *args)
{
    unsigned int clip, window, stride, fft_length, frames, first_bin, num_bins, mels, coeffs, norm;
    int zero_point;
    float log_offset, scale;
    PyObject *tables[NUM_TABLES];
    if (!PyArg_ParseTuple(args, "(IIIIIIIIIIi)(ff)(OOOOOOOO):make_config", &clip, &window, &stride,
                          &fft_length, &frames, &first_bin, &num_bins, &mels, &coeffs, &norm,
                          &zero_point, &log_offset, &scale, &tables[0], &tables[1], &tables[2],
                          &tables[3], &tables[4], &tables[5], &tables[6], &tables[7])) {
        return NULL;
    }
    frontend_handle *h = (frontend_handle *)PyMem_Calloc(1, sizeof *h);
    if (h == NULL) {
        return PyErr_NoMemory();
    }
    tml_frontend_config *c = &h->cfg;
    c->clip_samples = clip;
    c->window_samples = window;
    c->stride_samples = stride;
    c->fft_length = fft_length;
    c->num_frames = frames;
    c->first_bin = first_bin;
    c->num_bins = num_bins;
    c->num_mel_bins = mels;
    c->num_coefficients = coeffs;
    c->normalization = norm;
    c->log_offset = log_offset;
    c->output_scale = scale;
    c->output_zero_point = zero_point;

    /* Sizes checked here; the weights count is whatever the caller built (checked against
     * mel_count below). */
    const struct { char kind; Py_ssize_t count; const char *name; } expect[NUM_TABLES] = {
        {'f', (Py_ssize_t)window, "window"},
        {'f', (Py_ssize_t)(fft_length / 8) * 6, "fft_twiddles"},
        {'H', (Py_ssize_t)num_bins * 2, "split_order"},
        {'f', (Py_ssize_t)num_bins * 2, "split_twiddles"},
        {'H', (Py_ssize_t)mels, "mel_start"},
        {'H', (Py_ssize_t)mels, "mel_count"},
        {'f', -1, "mel_weights"},
        {'f', (Py_ssize_t)coeffs * mels, "dct"},
    };
    for (int i = 0; i < NUM_TABLES; ++i) {
        Py_ssize_t count = expect[i].count;
        if (count < 0) { /* mel weights: sum of counts */
            const uint16_t *counts = (const uint16_t *)h->views[5].buf;
            count = 0;
            for (unsigned int b = 0; b < mels; ++b) {
                count += counts[b];
            }
        }
        if (get_table(tables[i], &h->views[i], expect[i].kind, count, expect[i].name) != 0) {
            handle_free(h);
            return NULL;
        }
        h->num_views = i + 1;
    }
    c->window = (const float *)h->views[0].buf;
    c->fft_twiddles = (const float *)h->views[1].buf;
    c->split_order = (const uint16_t *)h->views[2].buf;
    c->split_twiddles = (const float *)h->views[3].buf;
    c->mel_start = (const uint16_t *)h->views[4].buf;
    c->mel_count = (const uint16_t *)h->views[5].buf;
    c->mel_weights = (const float *)h->views[6].buf;
    c->dct = (const float *)h->views[7].buf;
    if (tml_frontend_scratch_bytes(c) == 0) {
        PyErr_SetString(PyExc_ValueError, "inconsistent frontend config (rejected by the C frontend)");
        handle_free(h);
        return NULL;
    }
    PyObject *capsule = PyCapsule_New(h, CAPSULE_NAME, capsule_destructor);
    if (capsule == NULL) {
        handle_free(h);
    }
    return capsule;
}

static const tml_frontend_config *config_from(PyObject *capsule)
{
    frontend_handle *h = (frontend_handle *)PyCapsule_GetPointer(capsule, CAPSULE_NAME);
    return h ? &h->cfg : NULL;
}

static PyObject *scratch_bytes(PyObject *self, PyObject *capsule)
{
    const tml_frontend_config *cfg = config_from(capsule);
    if (cfg == NULL) {
        return NULL;
    }
    return PyLong_FromSize_t(tml_frontend_scratch_bytes(cfg));
}

/* compute(config, pcm int16 [n_clips, n_samples], out int8 or float32 [n_clips, frames, coeffs]) */
static PyObject *compute(PyObject *self, PyObject *args)
{
    PyObject *capsule, *pcm_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOO:compute", &capsule, &pcm_obj, &out_obj)) {
        return NULL;
    }
    const tml_frontend_config *cfg = config_from(capsule);
    if (cfg == NULL) {
        return NULL;
    }
    Py_buffer pcm, out;
    if (PyObject_GetBuffer(pcm_obj, &pcm, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) != 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND |
                                              PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&pcm);
        return NULL;
    }
    PyObject *result = NULL;
    const char out_kind = buffer_kind(&out);
    const size_t per_clip = (size_t)cfg->num_frames * cfg->num_coefficients;
    if (buffer_kind(&pcm) != 'h' || pcm.ndim != 2) {
        PyErr_SetString(PyExc_ValueError, "pcm: expected a C-contiguous int16 array [clips, samples]");
        goto done;
    }
    const size_t n_clips = (size_t)pcm.shape[0], n_samples = (size_t)pcm.shape[1];
    if ((out_kind != 'b' && out_kind != 'f') || out.ndim != 3 || (size_t)out.shape[0] != n_clips ||
        (size_t)out.shape[1] != cfg->num_frames || (size_t)out.shape[2] != cfg->num_coefficients) {
        PyErr_Format(PyExc_ValueError, "out: expected a C-contiguous int8 or float32 array [%zu, %u, %u]",
                     n_clips, cfg->num_frames, cfg->num_coefficients);
        goto done;
    }
    const size_t scratch_size = tml_frontend_scratch_bytes(cfg);
    void *scratch = malloc(scratch_size + 16);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int err = TML_FRONTEND_OK;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n_clips && err == TML_FRONTEND_OK; ++i) {
        const int16_t *clip = (const int16_t *)pcm.buf + i * n_samples;
        if (out_kind == 'b') {
            err = tml_frontend_compute(cfg, clip, n_samples, scratch, (int8_t *)out.buf + i * per_clip);
        } else {
            err = tml_frontend_compute_float(cfg, clip, n_samples, scratch,
                                             (float *)out.buf + i * per_clip);
        }
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    if (err != TML_FRONTEND_OK) {
        PyErr_Format(PyExc_RuntimeError, "tml_frontend_compute failed with code %d", err);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&pcm);
    return result;
}

/* logf(in float32 buffer, out float32 buffer): tml_frontend_logf elementwise (for tests). */
static PyObject *logf_array(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OO:logf", &in_obj, &out_obj)) {
        return NULL;
    }
    Py_buffer in, out;
    if (PyObject_GetBuffer(in_obj, &in, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) != 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    PyObject *result = NULL;
    if (buffer_kind(&in) != 'f' || buffer_kind(&out) != 'f' || in.len != out.len) {
        PyErr_SetString(PyExc_ValueError, "logf: expected two float32 buffers of equal size");
    } else {
        const float *x = (const float *)in.buf;
        float *y = (float *)out.buf;
        const Py_ssize_t n = in.len / (Py_ssize_t)sizeof(float);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; ++i) {
            y[i] = tml_frontend_logf(x[i]);
        }
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&in);
    return result;
}

static PyMethodDef methods[] = {
    {"make_config", make_config, METH_VARARGS,
     "make_config((ints), (log_offset, scale), (8 tables)) -> config capsule"},
    {"scratch_bytes", scratch_bytes, METH_O, "scratch_bytes(config) -> int"},
    {"compute", compute, METH_VARARGS,
     "compute(config, pcm int16 [N, S], out int8|float32 [N, frames, coeffs]); releases the GIL"},
    {"logf", logf_array, METH_VARARGS, "logf(x float32, out float32): tml_frontend_logf"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_frontend",
    "The C audio frontend of firmware/frontend, compiled for the host.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__frontend(void)
{
    return PyModule_Create(&module);
}
