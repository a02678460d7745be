package tunnel

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// crc16Table is CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum Redis
// Cluster hashes keys with.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^c]
	}
	return crc
}

// keySlot is the hash slot of key, as CLUSTER KEYSLOT computes it: when the key holds a
// hash tag (the bytes between the first '{' and the next '}', if not empty) only the tag
// is hashed, so keys sharing a tag share a slot.
func keySlot(key []byte) int {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(crc16(key) & (clusterSlots - 1))
			}
		}
		break
	}
	return int(crc16(key) & (clusterSlots - 1))
}
