//! H.264 over RTP (RFC 6184) for recording: where an access unit (one picture) begins, the
//! payloads of one whole access unit turned into AVCC samples (each NAL unit behind a 4-byte
//! big-endian length, what Matroska's `V_MPEG4/ISO/AVC` holds), the picture size an SPS
//! announces, and the `avcC` record (ISO/IEC 14496-15 5.3.3.1) Matroska's CodecPrivate carries.
//!
//! Only packetization-mode 0 and 1 are taken (single NAL unit, STAP-A, FU-A): that is what WebRTC
//! negotiates. The interleaved mode's packets (STAP-B, MTAP, FU-B) make their access unit invalid,
//! so the recorder drops it as it drops a frame with a lost packet.
//!
//! str0m has an H.264 depacketiser, but only behind its `unversioned` feature (no semver promise),
//! and it carries FU-A state across calls without checking fragment starts and ends, so a lost
//! middle fragment would pass as a whole NAL unit. Here the recorder's assembler hands over only
//! packets in unbroken sequence, and this module checks that every FU-A runs from start to end.

/// NAL unit types (H.264 table 7-1, RFC 6184 table 1).
const SLICE: u8 = 1;
const IDR: u8 = 5;
const SEI: u8 = 6;
const SPS: u8 = 7;
const PPS: u8 = 8;
const AUD: u8 = 9;
const FILLER: u8 = 12;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// One access unit, depacketised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessUnit {
    /// Its NAL units, each behind its 4-byte length.
    pub avcc: Vec<u8>,
    /// It holds an IDR slice: decoding can start here.
    pub idr: bool,
    /// The last SPS and PPS it carried, if any (they stay in `avcc` too).
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
}

/// Why an access unit's payloads do not make whole NAL units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// A packet shorter than its header says.
    Short,
    /// An FU-A fragment without the start before it, or a fragmented unit without its end.
    Fragment,
    /// A packet type of the interleaved mode (STAP-B, MTAP, FU-B), or the forbidden bit set.
    Unsupported,
}

/// Whether a NAL unit of `kind` whose body (after its header byte) starts with `body` begins an
/// access unit (H.264 7.4.1.2.3): an access unit delimiter, SEI, SPS or PPS, or the first slice of
/// a picture (`first_mb_in_slice` 0, whose Exp-Golomb code is the single bit 1).
fn nal_starts(kind: u8, body: Option<&u8>) -> bool {
    match kind {
        AUD | SEI | SPS | PPS => true,
        SLICE | IDR => body.is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

/// Whether an RTP payload can be the first of an access unit. Used only to find where to resume
/// after loss: frames otherwise run from the packet after a marker to the next marker.
pub(crate) fn starts_access_unit(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    match header & 0x1f {
        STAP_A => payload
            .get(3)
            .is_some_and(|h| nal_starts(h & 0x1f, payload.get(4))),
        FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && nal_starts(fu & 0x1f, payload.get(2))),
        kind => nal_starts(kind, payload.get(1)),
    }
}

impl AccessUnit {
    fn push_nal(&mut self, nal: &[u8]) {
        let Some(&header) = nal.first() else {
            return;
        };
        let kind = header & 0x1f;
        match kind {
            // Padding carries nothing a player needs.
            FILLER => return,
            IDR => self.idr = true,
            SPS => self.sps = Some(nal.to_vec()),
            PPS => self.pps = Some(nal.to_vec()),
            _ => {}
        }
        // An RTP payload is at most a datagram, and an FU-A unit is capped by the frame assembler's
        // window: far below 4 GiB.
        let len = u32::try_from(nal.len()).unwrap_or(u32::MAX);
        self.avcc.extend_from_slice(&len.to_be_bytes());
        self.avcc.extend_from_slice(nal);
    }
}

/// Depacketises the RTP payloads of one access unit, in sequence order with none missing.
///
/// # Errors
/// When they do not make whole NAL units (see [`Invalid`]).
pub(crate) fn depacketize<'a>(
    payloads: impl IntoIterator<Item = &'a [u8]>,
) -> Result<AccessUnit, Invalid> {
    let mut au = AccessUnit {
        avcc: Vec::new(),
        idr: false,
        sps: None,
        pps: None,
    };
    // The unit being reassembled from FU-A fragments.
    let mut fragmented: Option<Vec<u8>> = None;
    for p in payloads {
        let Some(&header) = p.first() else {
            continue;
        };
        if header & 0x80 != 0 {
            return Err(Invalid::Unsupported);
        }
        let kind = header & 0x1f;
        if kind != FU_A && fragmented.is_some() {
            return Err(Invalid::Fragment);
        }
        match kind {
            1..=23 => au.push_nal(p),
            STAP_A => {
                let mut at = 1;
                while at < p.len() {
                    let len = p
                        .get(at..at + 2)
                        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                        .ok_or(Invalid::Short)?;
                    let nal = p.get(at + 2..at + 2 + len).ok_or(Invalid::Short)?;
                    au.push_nal(nal);
                    at += 2 + len;
                }
            }
            FU_A => {
                let fu = *p.get(1).ok_or(Invalid::Short)?;
                let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
                let body = &p[2..];
                match (&mut fragmented, start) {
                    (None, true) => {
                        // The unit's header: F and NRI from the indicator, the type from the FU
                        // header (RFC 6184 5.8).
                        let mut unit = vec![(header & 0xe0) | (fu & 0x1f)];
                        unit.extend_from_slice(body);
                        fragmented = Some(unit);
                    }
                    (Some(unit), false) => unit.extend_from_slice(body),
                    _ => return Err(Invalid::Fragment),
                }
                if end && let Some(unit) = fragmented.take() {
                    au.push_nal(&unit);
                }
            }
            // Types 0, 30 and 31 are undefined: receivers ignore them (RFC 6184 5.4).
            0 | 30 | 31 => {}
            _ => return Err(Invalid::Unsupported),
        }
    }
    if fragmented.is_some() {
        return Err(Invalid::Fragment);
    }
    Ok(au)
}

/// A reader of an RBSP (a NAL unit's body with emulation prevention bytes removed), bit by bit.
struct Bits {
    bytes: Vec<u8>,
    at: usize,
}

impl Bits {
    fn new(nal_body: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(nal_body.len());
        let mut zeros = 0;
        for &b in nal_body {
            if zeros >= 2 && b == 3 {
                // 00 00 03 stands for 00 00 (H.264 7.4.1).
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            bytes.push(b);
        }
        Self { bytes, at: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = self.bytes.get(self.at / 8)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0, |v, _| Some((v << 1) | self.bit()?))
    }

    /// ue(v), Exp-Golomb (H.264 9.1).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    /// se(v); only skipped, so its value is not mapped to a sign.
    fn skip_se(&mut self) -> Option<()> {
        self.ue().map(|_| ())
    }
}

/// The width and height of the pictures an SPS NAL unit (header byte included) describes, after
/// cropping (H.264 7.3.2.1.1 and 7.4.2.1.1).
pub(crate) fn sps_size(sps: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits::new(sps.get(1..)?);
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level_idc
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    let mut separate_planes = false;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = r.ue()?;
        if chroma_format == 3 {
            separate_planes = r.bit()? == 1;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            // seq_scaling_matrix_present_flag: skip the lists (7.3.2.1.1.1).
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            let code = i64::from(r.ue()?);
                            let delta = if code % 2 == 1 {
                                (code + 1) / 2
                            } else {
                                -code / 2
                            };
                            next = (last + delta + 256) % 256;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bit()?; // delta_pic_order_always_zero_flag
            r.skip_se()?; // offset_for_non_ref_pic
            r.skip_se()?; // offset_for_top_to_bottom_field
            for _ in 0..r.ue()? {
                r.skip_se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()?.checked_add(1)?;
    let height_units = r.ue()?.checked_add(1)?;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if r.bit()? == 1 {
        (left, right, top, bottom) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
    }
    let field = 2 - frame_mbs_only;
    let (crop_x, crop_y) = match (separate_planes, chroma_format) {
        (true, _) | (false, 0) => (1, field),
        (false, 1) => (2, 2 * field),
        (false, 2) => (2, field),
        _ => (1, field),
    };
    let width = width_mbs
        .checked_mul(16)?
        .checked_sub(crop_x * (left + right))?;
    let height = height_units
        .checked_mul(16 * field)?
        .checked_sub(crop_y * (top + bottom))?;
    (width > 0 && height > 0).then_some((width, height))
}

/// The `avcC` record (AVCDecoderConfigurationRecord) of one SPS and one PPS (NAL units with their
/// header bytes), with 4-byte NAL unit lengths.
pub(crate) fn avcc_record(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    let sps_len = u16::try_from(sps.len()).ok()?;
    let pps_len = u16::try_from(pps.len()).ok()?;
    let mut out = vec![
        1,            // configurationVersion
        *sps.get(1)?, // AVCProfileIndication
        *sps.get(2)?, // profile_compatibility
        *sps.get(3)?, // AVCLevelIndication
        0xfc | 3,     // lengthSizeMinusOne: 4-byte lengths
        0xe0 | 1,     // one SPS
    ];
    out.extend_from_slice(&sps_len.to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1); // one PPS
    out.extend_from_slice(&pps_len.to_be_bytes());
    out.extend_from_slice(pps);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SPS libx264 writes for 640×360 constrained baseline, level 3.0 (40×23 macroblocks, 8
    /// lines cropped).
    const SPS_640X360: &[u8] = &[
        0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
        0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x8f, 0x16, 0x2e, 0x48,
    ];
    const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

    fn nal(kind: u8, first_slice: bool, len: usize) -> Vec<u8> {
        let mut n = vec![0x60 | kind, if first_slice { 0x88 } else { 0x48 }];
        n.extend((0..len).map(|i| u8::try_from(i % 200).unwrap() + 1));
        n
    }

    fn stap_a(nals: &[&[u8]]) -> Vec<u8> {
        let mut p = vec![0x60 | STAP_A];
        for n in nals {
            p.extend_from_slice(&u16::try_from(n.len()).unwrap().to_be_bytes());
            p.extend_from_slice(n);
        }
        p
    }

    /// `unit` cut into FU-A fragments of `size` bytes of its body.
    fn fu_a(unit: &[u8], size: usize) -> Vec<Vec<u8>> {
        let chunks: Vec<&[u8]> = unit[1..].chunks(size).collect();
        let last = chunks.len() - 1;
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut fu = unit[0] & 0x1f;
                if i == 0 {
                    fu |= 0x80;
                }
                if i == last {
                    fu |= 0x40;
                }
                let mut p = vec![(unit[0] & 0xe0) | FU_A, fu];
                p.extend_from_slice(c);
                p
            })
            .collect()
    }

    fn avcc(nals: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for n in nals {
            out.extend_from_slice(&u32::try_from(n.len()).unwrap().to_be_bytes());
            out.extend_from_slice(n);
        }
        out
    }

    #[test]
    fn stap_a_and_single_nal_units_become_length_prefixed_samples() {
        let idr = nal(IDR, true, 300);
        let packets = [stap_a(&[SPS_640X360, PPS]), idr.clone()];
        let au = depacketize(packets.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(au.avcc, avcc(&[SPS_640X360, PPS, &idr]));
        assert!(au.idr);
        assert_eq!(au.sps.as_deref(), Some(SPS_640X360));
        assert_eq!(au.pps.as_deref(), Some(PPS));
        assert!(starts_access_unit(&packets[0]));
    }

    #[test]
    fn fu_a_start_middle_and_end_fragments_rebuild_the_unit() {
        let idr = nal(IDR, true, 3000);
        let fragments = fu_a(&idr, 1000);
        assert_eq!(fragments.len(), 4, "start, two middles, end");
        let au = depacketize(fragments.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(au.avcc, avcc(&[&idr]));
        assert!(au.idr && au.sps.is_none());
        assert!(starts_access_unit(&fragments[0]));
        assert!(!starts_access_unit(&fragments[1]), "a middle fragment");
        // A second slice of the same picture does not start an access unit.
        assert!(!starts_access_unit(
            &fu_a(&nal(SLICE, false, 3000), 1000)[0]
        ));
        assert!(starts_access_unit(&nal(SLICE, true, 10)));
    }

    #[test]
    fn a_lost_fragment_makes_the_unit_invalid() {
        let slice = nal(SLICE, true, 3000);
        let fragments = fu_a(&slice, 1000);
        for lost in 0..fragments.len() {
            let mut rest = fragments.clone();
            rest.remove(lost);
            if lost == 1 || lost == 2 {
                // Without sequence numbers a middle fragment's loss cannot be seen here: the
                // assembler only hands over unbroken sequences, and this shows why it must.
                continue;
            }
            assert_eq!(
                depacketize(rest.iter().map(Vec::as_slice)),
                Err(Invalid::Fragment),
                "fragment {lost} lost"
            );
        }
        // A unit begun before the previous one ended.
        let mut two = fragments[..2].to_vec();
        two.extend(fu_a(&slice, 1000));
        assert_eq!(
            depacketize(two.iter().map(Vec::as_slice)),
            Err(Invalid::Fragment)
        );
        // Interleaved-mode packets and the forbidden bit.
        assert_eq!(depacketize([&[0x7a, 0, 0][..]]), Err(Invalid::Unsupported));
        assert_eq!(depacketize([&[0xe1, 0x88][..]]), Err(Invalid::Unsupported));
        // A STAP-A whose length runs past its end.
        assert_eq!(
            depacketize([&[0x78, 0x00, 0x09, 0x67][..]]),
            Err(Invalid::Short)
        );
    }

    #[test]
    fn an_sps_gives_the_cropped_size_and_the_avcc_record() {
        assert_eq!(sps_size(SPS_640X360), Some((640, 360)));
        let record = avcc_record(SPS_640X360, PPS).unwrap();
        assert_eq!(&record[..6], &[1, 0x42, 0xc0, 0x1e, 0xff, 0xe1]);
        assert_eq!(record.len(), 6 + 2 + SPS_640X360.len() + 1 + 2 + PPS.len());
        assert_eq!(sps_size(&[0x67, 0x42]), None);
    }
}
