// Command selo-pkcs11 is Selo's PKCS#11 module: built with
//
//	go build -buildmode=c-shared -o libselo-pkcs11.so ./cmd/selo-pkcs11
//
// it is a shared library that desktop applications (NSS: Firefox,
// Thunderbird, LibreOffice, pdfsig; OpenSSL's pkcs11 engine; pkcs11-tool)
// load to sign with the holder's cloud credentials: one token per account,
// and only the hash leaves the machine. glue.c is the PKCS#11 C ABI; it
// calls the exported functions below, which call package pkcs11. See
// docs/desktop.md.
package main

/*
#include <stdlib.h>
#include "pkcs11.h"
*/
import "C"

import (
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/selo-qtsp/selo/pkcs11"
)

func main() {}

var (
	mu  sync.RWMutex
	mod *pkcs11.Module
)

// module returns the initialized module, or nil before C_Initialize.
func module() *pkcs11.Module {
	mu.RLock()
	defer mu.RUnlock()
	return mod
}

// guard turns a panic into CKR_GENERAL_ERROR, logged, so that nothing the
// module does brings down its host application.
func guard(rv *C.CK_RV) {
	if r := recover(); r != nil {
		if m := module(); m != nil {
			m.Log().Error("panic", "panic", r, "stack", string(debug.Stack()))
		}
		*rv = C.CK_RV(pkcs11.CKR_GENERAL_ERROR)
	}
}

func ret(rv pkcs11.RV) C.CK_RV { return C.CK_RV(rv) }

// bytesAt is n bytes of C memory at p (nil for none).
func bytesAt(p unsafe.Pointer, n C.CK_ULONG) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

// pad writes s into the blank-padded field at p of n bytes.
func pad(p *C.uchar, n int, s string) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

//export goInitialize
func goInitialize() (rv C.CK_RV) {
	defer guard(&rv)
	mu.Lock()
	defer mu.Unlock()
	if mod != nil {
		return ret(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)
	}
	mod = pkcs11.Open()
	return ret(pkcs11.CKR_OK)
}

//export goFinalize
func goFinalize() (rv C.CK_RV) {
	defer guard(&rv)
	mu.Lock()
	defer mu.Unlock()
	if mod == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	mod.Close()
	mod = nil
	return ret(pkcs11.CKR_OK)
}

//export goInitialized
func goInitialized() C.int {
	if module() == nil {
		return 0
	}
	return 1
}

// ulongs writes vals into the list at p of *n entries (p nil: only the
// count), as the C_Get*List functions do.
func ulongs(vals []uint, p *C.CK_ULONG, n *C.CK_ULONG) C.CK_RV {
	if n == nil {
		return ret(pkcs11.CKR_ARGUMENTS_BAD)
	}
	if p == nil {
		*n = C.CK_ULONG(len(vals))
		return ret(pkcs11.CKR_OK)
	}
	if int(*n) < len(vals) {
		*n = C.CK_ULONG(len(vals))
		return ret(pkcs11.CKR_BUFFER_TOO_SMALL)
	}
	out := unsafe.Slice(p, len(vals))
	for i, v := range vals {
		out[i] = C.CK_ULONG(v)
	}
	*n = C.CK_ULONG(len(vals))
	return ret(pkcs11.CKR_OK)
}

//export goSlotList
func goSlotList(list *C.CK_ULONG, n *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ulongs(m.SlotIDs(), list, n)
}

//export goSlotInfo
func goSlotInfo(id C.CK_ULONG, desc, manuf *C.uchar, flags *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	info, r := m.SlotInfo(uint(id))
	if r != pkcs11.CKR_OK {
		return ret(r)
	}
	pad(desc, 64, info.Description)
	pad(manuf, 32, info.Manufacturer)
	*flags = C.CK_ULONG(info.Flags)
	return ret(pkcs11.CKR_OK)
}

//export goTokenInfo
func goTokenInfo(id C.CK_ULONG, label, manuf, model, serial *C.uchar, flags, sessions *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	info, r := m.TokenInfo(uint(id))
	if r != pkcs11.CKR_OK {
		return ret(r)
	}
	pad(label, 32, info.Label)
	pad(manuf, 32, info.Manufacturer)
	pad(model, 16, info.Model)
	pad(serial, 16, info.Serial)
	*flags, *sessions = C.CK_ULONG(info.Flags), C.CK_ULONG(info.Sessions)
	return ret(pkcs11.CKR_OK)
}

//export goMechanismList
func goMechanismList(id C.CK_ULONG, list *C.CK_ULONG, n *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	mechs, r := m.Mechanisms(uint(id))
	if r != pkcs11.CKR_OK {
		return ret(r)
	}
	return ulongs(mechs, list, n)
}

//export goMechanismInfo
func goMechanismInfo(id, mech C.CK_ULONG, lo, hi, flags *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	a, b, f, r := m.MechanismInfo(uint(id), uint(mech))
	if r == pkcs11.CKR_OK {
		*lo, *hi, *flags = C.CK_ULONG(a), C.CK_ULONG(b), C.CK_ULONG(f)
	}
	return ret(r)
}

//export goOpenSession
func goOpenSession(id, flags C.CK_ULONG, h *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	s, r := m.OpenSession(uint(id), uint(flags))
	if r == pkcs11.CKR_OK {
		*h = C.CK_ULONG(s)
	}
	return ret(r)
}

//export goCloseSession
func goCloseSession(h C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.CloseSession(uint(h)))
}

//export goCloseAllSessions
func goCloseAllSessions(id C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.CloseAllSessions(uint(id)))
}

//export goSessionInfo
func goSessionInfo(h C.CK_ULONG, slotID, state, flags *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	a, b, c, r := m.SessionInfo(uint(h))
	if r == pkcs11.CKR_OK {
		*slotID, *state, *flags = C.CK_ULONG(a), C.CK_ULONG(b), C.CK_ULONG(c)
	}
	return ret(r)
}

//export goLogin
func goLogin(h, userType C.CK_ULONG, pin unsafe.Pointer, pinLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if pinLen > 4096 {
		return ret(pkcs11.CKR_PIN_LEN_RANGE)
	}
	p := append([]byte(nil), bytesAt(pin, pinLen)...)
	return ret(m.Login(uint(h), uint(userType), p))
}

//export goLogout
func goLogout(h C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.Logout(uint(h)))
}

//export goWrite
func goWrite(h C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.WriteRV(uint(h)))
}

//export goObjectWrite
func goObjectWrite(h, o C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.ObjectWriteRV(uint(h), uint(o)))
}

//export goObjectSize
func goObjectSize(h, o C.CK_ULONG, size *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	n, r := m.ObjectSize(uint(h), uint(o))
	if r == pkcs11.CKR_OK {
		*size = C.CK_ULONG(n)
	}
	return ret(r)
}

//export goCheckObject
func goCheckObject(h, o C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.CheckObject(uint(h), uint(o)))
}

// goAttribute answers one entry of a C_GetAttributeValue template: buf nil
// asks for the length; *bufLen is set to the length, or to
// CK_UNAVAILABLE_INFORMATION when the attribute cannot be given.
//
//export goAttribute
func goAttribute(h, o, typ C.CK_ULONG, buf unsafe.Pointer, bufLen *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	v, r := m.AttributeValue(uint(h), uint(o), uint(typ))
	if r != pkcs11.CKR_OK {
		*bufLen = C.CK_ULONG(pkcs11.Unavailable)
		return ret(r)
	}
	if buf == nil {
		*bufLen = C.CK_ULONG(len(v))
		return ret(pkcs11.CKR_OK)
	}
	if int(*bufLen) < len(v) {
		*bufLen = C.CK_ULONG(pkcs11.Unavailable)
		return ret(pkcs11.CKR_BUFFER_TOO_SMALL)
	}
	copy(unsafe.Slice((*byte)(buf), len(v)), v)
	*bufLen = C.CK_ULONG(len(v))
	return ret(pkcs11.CKR_OK)
}

//export goFindInit
func goFindInit(h C.CK_ULONG, types *C.CK_ULONG, vals *unsafe.Pointer, lens *C.CK_ULONG, n C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if n > 64 {
		return ret(pkcs11.CKR_ARGUMENTS_BAD)
	}
	var tmpl []pkcs11.Attribute
	if n > 0 {
		ts, vs, ls := unsafe.Slice(types, int(n)), unsafe.Slice(vals, int(n)), unsafe.Slice(lens, int(n))
		for i := range ts {
			if ls[i] > 1<<20 || (vs[i] == nil && ls[i] != 0) {
				return ret(pkcs11.CKR_ARGUMENTS_BAD)
			}
			tmpl = append(tmpl, pkcs11.Attribute{Type: uint(ts[i]), Value: append([]byte{}, bytesAt(vs[i], ls[i])...)})
		}
	}
	return ret(m.FindObjectsInit(uint(h), tmpl))
}

//export goFind
func goFind(h C.CK_ULONG, out *C.CK_ULONG, max C.CK_ULONG, n *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	found, r := m.FindObjects(uint(h), int(min(max, 1<<20)))
	if r != pkcs11.CKR_OK {
		return ret(r)
	}
	if len(found) > 0 {
		dst := unsafe.Slice(out, len(found))
		for i, o := range found {
			dst[i] = C.CK_ULONG(o)
		}
	}
	*n = C.CK_ULONG(len(found))
	return ret(pkcs11.CKR_OK)
}

//export goFindFinal
func goFindFinal(h C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	return ret(m.FindObjectsFinal(uint(h)))
}

//export goSignInit
func goSignInit(h, mech C.CK_ULONG, param unsafe.Pointer, paramLen C.CK_ULONG, key C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if paramLen > 4096 {
		return ret(pkcs11.CKR_MECHANISM_PARAM_INVALID)
	}
	return ret(m.SignInit(uint(h), uint(mech), append([]byte(nil), bytesAt(param, paramLen)...), uint(key)))
}

// sigOut is the signature buffer of C_Sign and C_SignFinal.
func sigOut(sig unsafe.Pointer, sigLen *C.CK_ULONG) []byte {
	if sig == nil {
		return nil
	}
	return unsafe.Slice((*byte)(sig), int(min(*sigLen, 1<<20)))
}

//export goSign
func goSign(h C.CK_ULONG, data unsafe.Pointer, dataLen C.CK_ULONG, sig unsafe.Pointer, sigLen *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if sigLen == nil || (data == nil && dataLen != 0) {
		return ret(pkcs11.CKR_ARGUMENTS_BAD)
	}
	if dataLen > 64<<20 {
		return ret(pkcs11.CKR_DATA_LEN_RANGE)
	}
	n, r := m.Sign(uint(h), append([]byte(nil), bytesAt(data, dataLen)...), sigOut(sig, sigLen), sig == nil)
	if r == pkcs11.CKR_OK || r == pkcs11.CKR_BUFFER_TOO_SMALL {
		*sigLen = C.CK_ULONG(n)
	}
	return ret(r)
}

//export goSignUpdate
func goSignUpdate(h C.CK_ULONG, part unsafe.Pointer, partLen C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if part == nil && partLen != 0 {
		return ret(pkcs11.CKR_ARGUMENTS_BAD)
	}
	return ret(m.SignUpdate(uint(h), append([]byte(nil), bytesAt(part, partLen)...)))
}

//export goSignFinal
func goSignFinal(h C.CK_ULONG, sig unsafe.Pointer, sigLen *C.CK_ULONG) (rv C.CK_RV) {
	defer guard(&rv)
	m := module()
	if m == nil {
		return ret(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if sigLen == nil {
		return ret(pkcs11.CKR_ARGUMENTS_BAD)
	}
	n, r := m.SignFinal(uint(h), sigOut(sig, sigLen), sig == nil)
	if r == pkcs11.CKR_OK || r == pkcs11.CKR_BUFFER_TOO_SMALL {
		*sigLen = C.CK_ULONG(n)
	}
	return ret(r)
}
