//go:build cgo

// The PKCS#11 C ABI of Selo's module: C_GetFunctionList and the C_
// functions, each a thin call into Go (main.go) or a fixed answer for what
// a read-only signing token does not do.

#include <stdlib.h>
#include <string.h>
#include "pkcs11.h"
#include "_cgo_export.h"

#define NOT_INIT_CHECK() do { if (!goInitialized()) return CKR_CRYPTOKI_NOT_INITIALIZED; } while (0)

CK_RV C_Initialize(CK_VOID_PTR pInitArgs) {
	if (pInitArgs != NULL) {
		CK_C_INITIALIZE_ARGS *a = (CK_C_INITIALIZE_ARGS *)pInitArgs;
		int given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) + (a->UnlockMutex != NULL);
		if (given != 0 && given != 4)
			return CKR_ARGUMENTS_BAD;
		// The module locks with the operating system's primitives (Go's).
		if (given == 4 && !(a->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
	}
	return goInitialize();
}

CK_RV C_Finalize(CK_VOID_PTR pReserved) {
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	return goFinalize();
}

static void blank(unsigned char *p, size_t n, const char *s) {
	size_t l = strlen(s);
	memset(p, ' ', n);
	memcpy(p, s, l < n ? l : n);
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo) {
	NOT_INIT_CHECK();
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = 2;
	pInfo->cryptokiVersion.minor = 40;
	blank(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "Selo");
	blank(pInfo->libraryDescription, sizeof(pInfo->libraryDescription), "Selo cloud signing (CSC)");
	pInfo->libraryVersion.major = 1;
	pInfo->libraryVersion.minor = 0;
	return CKR_OK;
}

static CK_FUNCTION_LIST functionList;

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &functionList;
	return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount) {
	(void)tokenPresent; // every slot has its token
	return goSlotList(pSlotList, pulCount);
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
	if (pInfo == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	CK_FLAGS f = 0;
	CK_RV rv = goSlotInfo(slotID, pInfo->slotDescription, pInfo->manufacturerID, &f);
	pInfo->flags = f;
	pInfo->hardwareVersion.major = 1;
	pInfo->firmwareVersion.major = 1;
	return rv;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
	if (pInfo == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	CK_FLAGS f = 0;
	CK_ULONG sessions = 0;
	CK_RV rv = goTokenInfo(slotID, pInfo->label, pInfo->manufacturerID, pInfo->model, pInfo->serialNumber, &f, &sessions);
	pInfo->flags = f;
	pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	pInfo->ulSessionCount = sessions;
	pInfo->ulMaxRwSessionCount = 0;
	pInfo->ulRwSessionCount = 0;
	pInfo->ulMaxPinLen = 1024;
	pInfo->ulMinPinLen = 1;
	pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->hardwareVersion.major = 1;
	pInfo->firmwareVersion.major = 1;
	return rv;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount) {
	return goMechanismList(slotID, pMechanismList, pulCount);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo) {
	if (pInfo == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	CK_ULONG lo = 0, hi = 0;
	CK_FLAGS f = 0;
	CK_RV rv = goMechanismInfo(slotID, type, &lo, &hi, &f);
	pInfo->ulMinKeySize = lo;
	pInfo->ulMaxKeySize = hi;
	pInfo->flags = f;
	return rv;
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel) {
	NOT_INIT_CHECK();
	return CKR_TOKEN_WRITE_PROTECTED;
}

CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession) {
	if (phSession == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	return goOpenSession(slotID, flags, phSession);
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession) { return goCloseSession(hSession); }

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID) { return goCloseAllSessions(slotID); }

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
	if (pInfo == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	CK_ULONG slot = 0, st = 0, f = 0;
	CK_RV rv = goSessionInfo(hSession, &slot, &st, &f);
	pInfo->slotID = slot;
	pInfo->state = st;
	pInfo->flags = f;
	pInfo->ulDeviceError = 0;
	return rv;
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, CK_ULONG_PTR pulOperationStateLen) {
	NOT_INIT_CHECK();
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey, CK_OBJECT_HANDLE hAuthenticationKey) {
	NOT_INIT_CHECK();
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
	if (pPin == NULL && ulPinLen != 0) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	return goLogin(hSession, userType, pPin, ulPinLen);
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession) { return goLogout(hSession); }

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject) {
	NOT_INIT_CHECK();
	return goObjectWrite(hSession, hObject);
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
	NOT_INIT_CHECK();
	return goObjectWrite(hSession, hObject);
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize) {
	if (pulSize == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	return goObjectSize(hSession, hObject, pulSize);
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
	NOT_INIT_CHECK();
	if (pTemplate == NULL && ulCount != 0)
		return CKR_ARGUMENTS_BAD;
	CK_RV rv = goCheckObject(hSession, hObject);
	if (rv != CKR_OK)
		return rv;
	// Every entry is answered; the result is the first of
	// CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID or
	// CKR_BUFFER_TOO_SMALL met, as the standard asks.
	CK_RV result = CKR_OK;
	for (CK_ULONG i = 0; i < ulCount; i++) {
		CK_ULONG len = pTemplate[i].ulValueLen;
		CK_RV r = goAttribute(hSession, hObject, pTemplate[i].type, pTemplate[i].pValue, &len);
		pTemplate[i].ulValueLen = len;
		if (r == CKR_ATTRIBUTE_SENSITIVE || r == CKR_ATTRIBUTE_TYPE_INVALID || r == CKR_BUFFER_TOO_SMALL) {
			if (result == CKR_OK)
				result = r;
		} else if (r != CKR_OK) {
			return r;
		}
	}
	return result;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
	NOT_INIT_CHECK();
	if (pTemplate == NULL && ulCount != 0)
		return CKR_ARGUMENTS_BAD;
	if (ulCount > 64)
		return CKR_ARGUMENTS_BAD;
	CK_ULONG types[64], lens[64];
	void *vals[64];
	for (CK_ULONG i = 0; i < ulCount; i++) {
		types[i] = pTemplate[i].type;
		vals[i] = pTemplate[i].pValue;
		lens[i] = pTemplate[i].ulValueLen;
	}
	return goFindInit(hSession, types, vals, lens, ulCount);
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount) {
	if ((phObject == NULL && ulMaxObjectCount != 0) || pulObjectCount == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	return goFind(hSession, phObject, ulMaxObjectCount, pulObjectCount);
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession) { return goFindFinal(hSession); }

#define UNSUPPORTED(decl) CK_RV decl { NOT_INIT_CHECK(); return CKR_FUNCTION_NOT_SUPPORTED; }

UNSUPPORTED(C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))
UNSUPPORTED(C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen))
UNSUPPORTED(C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
UNSUPPORTED(C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart, CK_ULONG_PTR pulLastEncryptedPartLen))
UNSUPPORTED(C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))
UNSUPPORTED(C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen))
UNSUPPORTED(C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen))
UNSUPPORTED(C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen))
UNSUPPORTED(C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism))
UNSUPPORTED(C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen))
UNSUPPORTED(C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen))
UNSUPPORTED(C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey))
UNSUPPORTED(C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen))
UNSUPPORTED(C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))
UNSUPPORTED(C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen))
UNSUPPORTED(C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))
UNSUPPORTED(C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen))
UNSUPPORTED(C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen))
UNSUPPORTED(C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen))
UNSUPPORTED(C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))
UNSUPPORTED(C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen))
UNSUPPORTED(C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
UNSUPPORTED(C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen))
UNSUPPORTED(C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
UNSUPPORTED(C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen))
UNSUPPORTED(C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen))
UNSUPPORTED(C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen))
UNSUPPORTED(C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen))
UNSUPPORTED(C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pRserved))

CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount, CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount, CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) {
	NOT_INIT_CHECK();
	return goWrite(hSession);
}

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
	if (pMechanism == NULL) {
		NOT_INIT_CHECK();
		return CKR_ARGUMENTS_BAD;
	}
	if (pMechanism->pParameter == NULL && pMechanism->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	return goSignInit(hSession, pMechanism->mechanism, pMechanism->pParameter, pMechanism->ulParameterLen, hKey);
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
	return goSign(hSession, pData, ulDataLen, pSignature, pulSignatureLen);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen) {
	return goSignUpdate(hSession, pPart, ulPartLen);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
	return goSignFinal(hSession, pSignature, pulSignatureLen);
}

CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession) {
	NOT_INIT_CHECK();
	return CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession) {
	NOT_INIT_CHECK();
	return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_FUNCTION_LIST functionList = {
	{2, 40},
	C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo,
	C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN, C_OpenSession, C_CloseSession,
	C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState, C_SetOperationState, C_Login, C_Logout,
	C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue,
	C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate,
	C_EncryptFinal, C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,
	C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,
	C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,
	C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate,
	C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
	C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent,
};
