"""The office's signing key and PAdES signatures (pyHanko).

Key rules (docs/operations.md, "Credit report signing key"):
- The office configures a PKCS#12 file, or a PEM key with its PEM certificate. Either must load, the key
  must belong to the certificate, and the certificate must be valid today.
- Development without a configured key uses a generated key under ``dev_key_dir`` whose certificate says
  TEST ONLY in its subject; every report signed with it says so on the page as well.
- Production (``PORTAL_ENV=production``) refuses to start without a configured key, and refuses a
  certificate marked TEST ONLY: a report that a tender office can be shown must never carry a test key.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.validation import SignatureCoverageLevel, async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from portal.public.durable import write_durably
from portal.report.config import ReportConfig
from portal.report.settings import (
    SIGNATURE_BYTES_RESERVED,
    SIGNATURE_FIELD,
    TEST_CERT_COMMON_NAME,
    TEST_CERT_DAYS,
    TEST_CERT_MARKER,
    TEST_CERT_ORGANISATION,
)

Result = TypeVar("Result")
TEST_KEY_FILE = "test-signing-key.pem"
TEST_CERT_FILE = "test-signing-cert.pem"


class SigningKeyError(RuntimeError):
    """The signing key cannot be used; the message says why in Chinese and English."""


class _CachedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner parses the private key again for every signature (~95 ms for RSA, because
    cryptography checks the key on load); this one parses it once. RSA PKCS#1 v1.5 and ECDSA only, the
    mechanisms office certificates use; anything else goes to pyHanko's own code."""

    _private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if self._private_key is None:
            loaded = serialization.load_der_private_key(self.signing_key.dump(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                return super().sign_raw(data, digest_algorithm)
            self._private_key = loaded
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._private_key, rsa.RSAPrivateKey):
            return self._private_key.sign(data, padding.PKCS1v15(), hash_algorithm)
        if mechanism == "ecdsa" and isinstance(self._private_key, ec.EllipticCurvePrivateKey):
            return self._private_key.sign(data, ec.ECDSA(hash_algorithm))
        return super().sign_raw(data, digest_algorithm)


@dataclass(frozen=True)
class ReportSigner:
    signer: signers.SimpleSigner
    certificate_pem: bytes  # the signing certificate, for the registry and for verification
    fingerprint: str  # SHA-256 of the certificate (DER), hex
    subject: str  # the certificate's subject as readers show it
    is_test: bool  # the generated TEST ONLY key


def _subject_text(cert: asn1_x509.Certificate) -> str:
    return cert.subject.human_friendly


def _check_certificate(cert: asn1_x509.Certificate, config: ReportConfig, source: str) -> None:
    now = datetime.now(UTC)
    if not cert.not_valid_before <= now <= cert.not_valid_after:
        raise SigningKeyError(f"报告签章证书不在有效期内（{source}） / the report signing certificate is not valid "
                              f"today ({source})")
    if config.production and TEST_CERT_MARKER in _subject_text(cert):
        raise SigningKeyError(f"生产模式下不得使用测试签章证书（{source}） / production refuses a TEST ONLY "
                              f"certificate ({source})")


def _certificate(signer: signers.SimpleSigner, source: str) -> asn1_x509.Certificate:
    if signer.signing_cert is None:  # a PKCS#12 file may hold a key without its certificate
        raise SigningKeyError(f"报告签章文件中没有证书（{source}） / no certificate with the signing key ({source})")
    return signer.signing_cert


def _check_key_matches(signer: signers.SimpleSigner, certificate: asn1_x509.Certificate, source: str) -> None:
    private = serialization.load_der_private_key(signer.signing_key.dump(), password=None)
    public_of_cert = certificate.public_key.dump()
    public_of_key = private.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    if public_of_cert != public_of_key:
        raise SigningKeyError(f"报告签章私钥与证书不匹配（{source}） / the signing key does not belong to the "
                              f"certificate ({source})")


def ensure_test_key(directory: Path) -> tuple[Path, Path]:
    """The development key and certificate under ``directory``, generated on first use (ECDSA P-256)."""
    key_path, cert_path = directory / TEST_KEY_FILE, directory / TEST_CERT_FILE
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEST_CERT_COMMON_NAME),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_CERT_ORGANISATION)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=TEST_CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    # The certificate is written last: a key without a certificate is regenerated on the next start.
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    write_durably(key_path, key_bytes)
    os.chmod(key_path, 0o600)
    write_durably(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def load_signer(config: ReportConfig) -> ReportSigner:
    """The configured signing key, or (development only) the generated test key. Raises SigningKeyError."""
    is_test = False
    if config.pkcs12 is not None:
        if config.key is not None or config.cert is not None:
            raise SigningKeyError("请只配置 PKCS#12 文件或 PEM 私钥与证书之一 / configure either PKCS#12 or PEM "
                                  "key and certificate, not both")
        source = str(config.pkcs12)
        loaded = _load(lambda: _CachedKeySigner.load_pkcs12(str(config.pkcs12), passphrase=config.passphrase),
                       source)
    elif config.key is not None or config.cert is not None:
        if config.key is None or config.cert is None:
            raise SigningKeyError("PEM 私钥与证书须同时配置 / a PEM key needs its certificate and vice versa")
        source = str(config.key)
        loaded = _load(lambda: _CachedKeySigner.load(str(config.key), str(config.cert), key_passphrase=config.passphrase,
                                                      ca_chain_files=[str(p) for p in config.chain] or None), source)
    elif config.production:
        raise SigningKeyError("生产模式下必须配置报告签章密钥（PORTAL_REPORT_SIGNING_PKCS12，或 PORTAL_REPORT_SIGNING_KEY "
                              "与 PORTAL_REPORT_SIGNING_CERT） / production needs the office's report signing key")
    else:
        key_path, cert_path = ensure_test_key(config.dev_key_dir)
        source = str(key_path)
        loaded = _load(lambda: _CachedKeySigner.load(str(key_path), str(cert_path)), source)
        is_test = True
    certificate = _certificate(loaded, source)
    _check_certificate(certificate, config, source)
    _check_key_matches(loaded, certificate, source)
    der = certificate.dump()
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return ReportSigner(signer=loaded, certificate_pem=pem, fingerprint=hashlib.sha256(der).hexdigest(),
                        subject=_subject_text(certificate), is_test=is_test)


def _load(load: object, source: str) -> signers.SimpleSigner:
    try:
        signer = load()  # type: ignore[operator]
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"无法读取报告签章密钥（{source}） / cannot load the report signing key ({source}): "
                              f"{type(exc).__name__}") from exc
    if signer is None:  # pyHanko logs the reason and returns None for a wrong passphrase or a bad file
        raise SigningKeyError(f"无法读取报告签章密钥，请检查文件与口令（{source}） / cannot load the report signing key; "
                              f"check the file and its passphrase ({source})")
    return signer


def sign_pdf(pdf: bytes, signer: ReportSigner, *, office: str, reason: str) -> bytes:
    """The PDF with a PAdES baseline signature over the whole file (an incremental update)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, subfilter=SigSeedSubFilter.PADES,
                                        md_algorithm="sha256", reason=reason, location=office, name=office)
    out = signers.sign_pdf(writer, meta, signer=signer.signer, bytes_reserved=SIGNATURE_BYTES_RESERVED)
    return out.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the signature is mathematically valid for them
    trusted: bool  # the signer's certificate chains to the given trust root
    whole_file: bool  # the signature covers the entire file (nothing appended after signing)
    signer: str  # subject of the signing certificate

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.whole_file


def check_signature(pdf: bytes, trusted_certificate_pem: bytes) -> SignatureCheck:
    """Validate the one signature of a report against the office's certificate (pyHanko's validator).

    A file that no longer parses as a signed PDF (a damaged or tampered copy) is reported as not intact;
    any other failure is raised.
    """
    root = load_cert_from_pemder_bytes(trusted_certificate_pem)
    broken = SignatureCheck(False, False, False, False, "")
    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception:  # noqa: BLE001 - a changed byte can break the parser in any way (decimal errors too)
        return broken
    if len(signatures) != 1:
        return broken
    try:
        status = _outside_event_loop(
            lambda: asyncio.run(async_validate_pdf_signature(signatures[0], ValidationContext(trust_roots=[root]))))
    except (PdfError, ValueError, ArithmeticError, KeyError, IndexError):
        return broken
    return SignatureCheck(intact=status.intact, valid=status.valid, trusted=status.trusted,
                          whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
                          signer=status.signing_cert.subject.human_friendly)


def _outside_event_loop(function: Callable[[], Result]) -> Result:
    """pyHanko's validator runs its own event loop; from code already inside one (an async test, a
    Playwright session) it runs on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def load_cert_from_pemder_bytes(data: bytes) -> asn1_x509.Certificate:
    if data.lstrip().startswith(b"-----"):
        der = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    else:
        der = data
    return asn1_x509.Certificate.load(der)

