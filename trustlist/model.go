// Package trustlist reads, writes and uses trusted lists in the form of
// ETSI TS 119 612 v2.1.1: the lists EU member states publish of their
// qualified trust service providers and services, and the list of the
// lists (LOTL) that points at them.
//
// The provider's side builds its entry (Provider) and, for test and sandbox
// use, a complete signed list and a LOTL pointing at it. The relying
// party's side loads a LOTL, follows its pointers, checks each list's XAdES
// signature against the certificates its pointer names, and grades a
// signature's certificate chain as QES / QESeal, AdES-QC or AdES from the
// services the lists hold (see Grade).
package trustlist

import (
	"encoding/xml"
	"time"
)

// XML namespaces of TS 119 612 v2 and the schemas it imports.
const (
	NS           = "http://uri.etsi.org/02231/v2#"
	NSAdditional = "http://uri.etsi.org/02231/v2/additionaltypes#"
	NSSie        = "http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/#"
	NSXAdES      = "http://uri.etsi.org/01903/v1.3.2#"
	NSDS         = "http://www.w3.org/2000/09/xmldsig#"
)

// Values TS 119 612 v2.1.1 fixes.
const (
	TSLTag         = "http://uri.etsi.org/19612/TSLTag"
	VersionID      = 5
	TypeEUGeneric  = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric"
	TypeEULOTL     = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUlistofthelists"
	StatusDetnEU   = "http://uri.etsi.org/TrstSvc/TrustedList/StatusDetn/EUappropriate"
	StatusDetnLOTL = "http://uri.etsi.org/TrstSvc/TrustedList/StatusDetn/EUlistofthelists"
	RulesEUCommon  = "http://uri.etsi.org/TrstSvc/TrustedList/schemerules/EUcommon"
	RulesLOTL      = "http://uri.etsi.org/TrstSvc/TrustedList/schemerules/EUlistofthelists"
	MimeTypeTSL    = "application/vnd.etsi.tsl+xml"

	ServiceTypeCAQC = "http://uri.etsi.org/TrstSvc/Svctype/CA/QC"
	ServiceTypeQTST = "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST"

	StatusGranted   = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted"
	StatusWithdrawn = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn"

	// Sie qualifiers (clause 5.5.9.2.3): they override or complete what a
	// certificate's QC statements say.
	QualifierPrefix      = "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/"
	QCStatement          = QualifierPrefix + "QCStatement"
	QCNotQualified       = QualifierPrefix + "NotQualified"
	QCForESig            = QualifierPrefix + "QCForESig"
	QCForESeal           = QualifierPrefix + "QCForESeal"
	QCForWSA             = QualifierPrefix + "QCForWSA"
	QCWithSSCD           = QualifierPrefix + "QCWithSSCD"
	QCNoSSCD             = QualifierPrefix + "QCNoSSCD"
	QCWithQSCD           = QualifierPrefix + "QCWithQSCD"
	QCNoQSCD             = QualifierPrefix + "QCNoQSCD"
	QCQSCDStatusAsInCert = QualifierPrefix + "QCQSCDStatusAsInCert"
	QCForLegalPerson     = QualifierPrefix + "QCForLegalPerson"

	// AdditionalServiceInformation URIs: what a CA/QC service issues for.
	ForESignatures = QualifierPrefix + "ForeSignatures"
	ForESeals      = QualifierPrefix + "ForeSeals"
)

// List is a TrustServiceStatusList: a trusted list or a LOTL.
type List struct {
	XMLName   xml.Name           `xml:"http://uri.etsi.org/02231/v2# TrustServiceStatusList"`
	TSLTag    string             `xml:"TSLTag,attr"`
	ID        string             `xml:"Id,attr,omitempty"`
	Scheme    SchemeInformation  `xml:"http://uri.etsi.org/02231/v2# SchemeInformation"`
	Providers *ProviderList      `xml:"http://uri.etsi.org/02231/v2# TrustServiceProviderList,omitempty"`
	Signature *struct{ Present } `xml:"http://www.w3.org/2000/09/xmldsig# Signature,omitempty"`
}

// Present marks an element that is only looked for, never written.
type Present struct{}

// SchemeInformation describes the list and its scheme operator.
type SchemeInformation struct {
	Version             int                 `xml:"http://uri.etsi.org/02231/v2# TSLVersionIdentifier"`
	SequenceNumber      int                 `xml:"http://uri.etsi.org/02231/v2# TSLSequenceNumber"`
	Type                string              `xml:"http://uri.etsi.org/02231/v2# TSLType"`
	OperatorName        Names               `xml:"http://uri.etsi.org/02231/v2# SchemeOperatorName"`
	OperatorAddress     Address             `xml:"http://uri.etsi.org/02231/v2# SchemeOperatorAddress"`
	SchemeName          Names               `xml:"http://uri.etsi.org/02231/v2# SchemeName"`
	InformationURI      URIs                `xml:"http://uri.etsi.org/02231/v2# SchemeInformationURI"`
	StatusDetermination string              `xml:"http://uri.etsi.org/02231/v2# StatusDeterminationApproach"`
	CommunityRules      *URIs               `xml:"http://uri.etsi.org/02231/v2# SchemeTypeCommunityRules,omitempty"`
	Territory           string              `xml:"http://uri.etsi.org/02231/v2# SchemeTerritory,omitempty"`
	LegalNotice         *LegalNotice        `xml:"http://uri.etsi.org/02231/v2# PolicyOrLegalNotice,omitempty"`
	HistoricalPeriod    int                 `xml:"http://uri.etsi.org/02231/v2# HistoricalInformationPeriod"`
	Pointers            *PointersToOtherTSL `xml:"http://uri.etsi.org/02231/v2# PointersToOtherTSL,omitempty"`
	IssueDateTime       time.Time           `xml:"http://uri.etsi.org/02231/v2# ListIssueDateTime"`
	NextUpdate          NextUpdate          `xml:"http://uri.etsi.org/02231/v2# NextUpdate"`
	DistributionPoints  *Locations          `xml:"http://uri.etsi.org/02231/v2# DistributionPoints,omitempty"`
}

// Name is a text in a language (xml:lang).
type Name struct {
	Lang  string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Value string `xml:",chardata"`
}

// Names is a multilingual name (InternationalNamesType).
type Names struct {
	Names []Name `xml:"http://uri.etsi.org/02231/v2# Name"`
}

// URIs is a multilingual URI list (NonEmptyMultiLangURIListType).
type URIs struct {
	URIs []Name `xml:"http://uri.etsi.org/02231/v2# URI"`
}

// Locations is a list of URIs without languages (NonEmptyURIListType).
type Locations struct {
	URIs []string `xml:"http://uri.etsi.org/02231/v2# URI"`
}

// LegalNotice holds the scheme's legal notice.
type LegalNotice struct {
	Notices []Name `xml:"http://uri.etsi.org/02231/v2# TSLLegalNotice"`
}

// NextUpdate is the date by which the next list will be issued; nil for a
// closed list.
type NextUpdate struct {
	DateTime *time.Time `xml:"http://uri.etsi.org/02231/v2# dateTime,omitempty"`
}

// Address is a postal and electronic address (AddressType).
type Address struct {
	Postal     PostalAddresses `xml:"http://uri.etsi.org/02231/v2# PostalAddresses"`
	Electronic URIs            `xml:"http://uri.etsi.org/02231/v2# ElectronicAddress"`
}

// PostalAddresses lists postal addresses, one per language.
type PostalAddresses struct {
	Addresses []PostalAddress `xml:"http://uri.etsi.org/02231/v2# PostalAddress"`
}

// PostalAddress is one postal address.
type PostalAddress struct {
	Lang          string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	StreetAddress string `xml:"http://uri.etsi.org/02231/v2# StreetAddress"`
	Locality      string `xml:"http://uri.etsi.org/02231/v2# Locality"`
	PostalCode    string `xml:"http://uri.etsi.org/02231/v2# PostalCode,omitempty"`
	CountryName   string `xml:"http://uri.etsi.org/02231/v2# CountryName"`
}

// PointersToOtherTSL points at other lists (a LOTL at the national lists).
type PointersToOtherTSL struct {
	Pointers []Pointer `xml:"http://uri.etsi.org/02231/v2# OtherTSLPointer"`
}

// Pointer is one OtherTSLPointer: the certificates that may sign the list,
// where it is and what it is.
type Pointer struct {
	Identities []DigitalIdentity  `xml:"http://uri.etsi.org/02231/v2# ServiceDigitalIdentities>ServiceDigitalIdentity"`
	Location   string             `xml:"http://uri.etsi.org/02231/v2# TSLLocation"`
	Info       []OtherInformation `xml:"http://uri.etsi.org/02231/v2# AdditionalInformation>OtherInformation"`
}

// OtherInformation is one item of a pointer's AdditionalInformation: only
// the items this package reads or writes are modelled.
type OtherInformation struct {
	Type         string `xml:"http://uri.etsi.org/02231/v2# TSLType,omitempty"`
	OperatorName *Names `xml:"http://uri.etsi.org/02231/v2# SchemeOperatorName,omitempty"`
	Territory    string `xml:"http://uri.etsi.org/02231/v2# SchemeTerritory,omitempty"`
	MimeType     string `xml:"http://uri.etsi.org/02231/v2/additionaltypes# MimeType,omitempty"`
}

// DigitalIdentity identifies a service: by certificate, and optionally by
// subject name and subject key identifier (DigitalIdentityListType).
type DigitalIdentity struct {
	IDs []DigitalID `xml:"http://uri.etsi.org/02231/v2# DigitalId"`
}

// DigitalID is one DigitalId; exactly one field is set.
type DigitalID struct {
	Certificate string `xml:"http://uri.etsi.org/02231/v2# X509Certificate,omitempty"` // base64 DER
	SubjectName string `xml:"http://uri.etsi.org/02231/v2# X509SubjectName,omitempty"`
	SKI         string `xml:"http://uri.etsi.org/02231/v2# X509SKI,omitempty"` // base64
}

// ProviderList is the TrustServiceProviderList.
type ProviderList struct {
	Providers []Provider `xml:"http://uri.etsi.org/02231/v2# TrustServiceProvider"`
}

// Provider is a TrustServiceProvider with its services.
type Provider struct {
	XMLName     xml.Name       `xml:"http://uri.etsi.org/02231/v2# TrustServiceProvider"`
	Information TSPInformation `xml:"http://uri.etsi.org/02231/v2# TSPInformation"`
	Services    []Service      `xml:"http://uri.etsi.org/02231/v2# TSPServices>TSPService"`
}

// TSPInformation names the provider.
type TSPInformation struct {
	Name           Names   `xml:"http://uri.etsi.org/02231/v2# TSPName"`
	TradeName      *Names  `xml:"http://uri.etsi.org/02231/v2# TSPTradeName,omitempty"`
	Address        Address `xml:"http://uri.etsi.org/02231/v2# TSPAddress"`
	InformationURI URIs    `xml:"http://uri.etsi.org/02231/v2# TSPInformationURI"`
}

// Service is a TSPService: its current information and its history.
type Service struct {
	Information ServiceInformation `xml:"http://uri.etsi.org/02231/v2# ServiceInformation"`
	History     *ServiceHistory    `xml:"http://uri.etsi.org/02231/v2# ServiceHistory,omitempty"`
}

// ServiceInformation is a service's current state.
type ServiceInformation struct {
	Type           string          `xml:"http://uri.etsi.org/02231/v2# ServiceTypeIdentifier"`
	Name           Names           `xml:"http://uri.etsi.org/02231/v2# ServiceName"`
	Identity       DigitalIdentity `xml:"http://uri.etsi.org/02231/v2# ServiceDigitalIdentity"`
	Status         string          `xml:"http://uri.etsi.org/02231/v2# ServiceStatus"`
	StatusStarting time.Time       `xml:"http://uri.etsi.org/02231/v2# StatusStartingTime"`
	SupplyPoints   *Locations      `xml:"http://uri.etsi.org/02231/v2# ServiceSupplyPoints,omitempty"`
	Extensions     *Extensions     `xml:"http://uri.etsi.org/02231/v2# ServiceInformationExtensions,omitempty"`
}

// ServiceHistory lists a service's earlier states, newest first.
type ServiceHistory struct {
	Instances []HistoryInstance `xml:"http://uri.etsi.org/02231/v2# ServiceHistoryInstance"`
}

// HistoryInstance is one earlier state of a service.
type HistoryInstance struct {
	Type           string          `xml:"http://uri.etsi.org/02231/v2# ServiceTypeIdentifier"`
	Name           Names           `xml:"http://uri.etsi.org/02231/v2# ServiceName"`
	Identity       DigitalIdentity `xml:"http://uri.etsi.org/02231/v2# ServiceDigitalIdentity"`
	Status         string          `xml:"http://uri.etsi.org/02231/v2# ServiceStatus"`
	StatusStarting time.Time       `xml:"http://uri.etsi.org/02231/v2# StatusStartingTime"`
	Extensions     *Extensions     `xml:"http://uri.etsi.org/02231/v2# ServiceInformationExtensions,omitempty"`
}

// Extensions is ServiceInformationExtensions.
type Extensions struct {
	Extensions []Extension `xml:"http://uri.etsi.org/02231/v2# Extension"`
}

// Extension is one service information extension; this package knows the
// Sie qualifications and AdditionalServiceInformation.
type Extension struct {
	Critical       bool                   `xml:"Critical,attr"`
	Qualifications *Qualifications        `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# Qualifications,omitempty"`
	Additional     *AdditionalInformation `xml:"http://uri.etsi.org/02231/v2# AdditionalServiceInformation,omitempty"`
}

// AdditionalInformation is AdditionalServiceInformation.
type AdditionalInformation struct {
	URI Name `xml:"http://uri.etsi.org/02231/v2# URI"`
}

// Qualifications is the Sie extension of a CA/QC service.
type Qualifications struct {
	Elements []QualificationElement `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# QualificationElement"`
}

// QualificationElement applies its qualifiers to the certificates its
// criteria select.
type QualificationElement struct {
	Qualifiers []Qualifier `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# Qualifiers>Qualifier"`
	Criteria   Criteria    `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# CriteriaList"`
}

// Qualifier is one qualifier URI.
type Qualifier struct {
	URI string `xml:"uri,attr"`
}

// Criteria is a CriteriaList: key usage bits and policy sets combined by
// Assert ("all", "atLeastOne" or "none").
type Criteria struct {
	Assert     string      `xml:"assert,attr"`
	KeyUsages  []KeyUsage  `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# KeyUsage"`
	PolicySets []PolicySet `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# PolicySet"`
}

// KeyUsage requires key usage bits to be set or clear.
type KeyUsage struct {
	Bits []KeyUsageBit `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# KeyUsageBit"`
}

// KeyUsageBit is one bit by its RFC 5280 name.
type KeyUsageBit struct {
	Name  string `xml:"name,attr"`
	Value bool   `xml:",chardata"`
}

// PolicySet matches a certificate that holds every one of its policies.
type PolicySet struct {
	Policies []PolicyIdentifier `xml:"http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/# PolicyIdentifier"`
}

// PolicyIdentifier is an OID as XAdES writes one.
type PolicyIdentifier struct {
	Identifier string `xml:"http://uri.etsi.org/01903/v1.3.2# Identifier"`
}
