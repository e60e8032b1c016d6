/* stub: being written */
typedef int nf_stub_keys;
