# frozen_string_literal: true

require 'openssl'
require 'base64'
require 'json'

module AsyncTaskCluster
  # AES-256-GCM with a key ring, writing the cluster's documented v1 envelope (README "Encrypted arguments"):
  #
  #   {"alg":"aes-256-gcm","ct":"<base64 ciphertext || 16-byte tag>","kid":"k2","nonce":"<base64 12 bytes>","v":1}
  #
  # with the associated data "asynctask:v1" NUL target NUL method_name, and `encryptor` = "aes-256-gcm:<kid>".
  # New rows use the primary key; rows written under another key of the ring still open.
  class AesGcmEncryptor
    SCHEME = 'aes-256-gcm'
    VERSION = 1
    NONCE_LENGTH = 12
    TAG_LENGTH = 16

    attr_reader :primary

    # keys: { 'k1' => base64 of 32 bytes, ... } (as `openssl rand -base64 32` prints); primary: the id new rows use.
    def initialize(primary:, keys:)
      @keys = keys.to_h.each_with_object({}) do |(id, text), ring|
        bytes = begin
          Base64.strict_decode64(text.to_s.strip)
        rescue ArgumentError
          raise ArgumentError, "encryption key #{id} is not base64 (generate one with `openssl rand -base64 32`)"
        end
        raise ArgumentError, "encryption key #{id} must be base64 of 32 bytes (AES-256), got #{bytes.bytesize} bytes" unless bytes.bytesize == 32

        ring[id.to_s] = bytes
      end
      @primary = primary.to_s
      raise ArgumentError, "the primary key #{@primary} is not in the key ring" unless @keys.key?(@primary)
    end

    # The `encryptor` column value of new rows.
    def id
      "#{SCHEME}:#{primary}"
    end

    # Whether this ring opens rows marked `encryptor`.
    def opens?(encryptor)
      encryptor.to_s.start_with?("#{SCHEME}:") && @keys.key?(encryptor.to_s.delete_prefix("#{SCHEME}:"))
    end

    # The associated data that binds an envelope to its row's target and method.
    def self.additional_data(target, method_name)
      "asynctask:v1\0#{target}\0#{method_name}".b
    end

    # Seals the arguments' JSON text; returns the envelope's JSON text.
    def encrypt(json, target:, method_name:)
      cipher = OpenSSL::Cipher.new('aes-256-gcm').encrypt
      cipher.key = @keys.fetch(primary)
      nonce = OpenSSL::Random.random_bytes(NONCE_LENGTH)
      cipher.iv = nonce
      cipher.auth_data = self.class.additional_data(target, method_name)
      ciphertext = cipher.update(json.b) + cipher.final
      JSON.generate(
        'alg' => SCHEME, 'ct' => Base64.strict_encode64(ciphertext + cipher.auth_tag(TAG_LENGTH)),
        'kid' => primary, 'nonce' => Base64.strict_encode64(nonce), 'v' => VERSION
      )
    end

    # Opens an envelope written under `encryptor`; returns the arguments' JSON text.
    def decrypt(stored, encryptor:, target:, method_name:)
      kid = encryptor.to_s.delete_prefix("#{SCHEME}:")
      key = @keys[kid] or raise ArgumentsError, "encryptor '#{encryptor}': key #{kid} is not in the key ring"
      envelope = JSON.parse(stored)
      raise ArgumentsError, "encryptor '#{encryptor}': envelope version must be #{VERSION}" unless envelope['v'] == VERSION
      raise ArgumentsError, "encryptor '#{encryptor}': envelope kid #{envelope['kid']} does not match" unless envelope['kid'] == kid

      nonce = Base64.strict_decode64(envelope.fetch('nonce'))
      sealed = Base64.strict_decode64(envelope.fetch('ct'))
      raise ArgumentsError, "encryptor '#{encryptor}': nonce must be #{NONCE_LENGTH} bytes" unless nonce.bytesize == NONCE_LENGTH
      raise ArgumentsError, "encryptor '#{encryptor}': ct is shorter than the tag" if sealed.bytesize < TAG_LENGTH

      cipher = OpenSSL::Cipher.new('aes-256-gcm').decrypt
      cipher.key = key
      cipher.iv = nonce
      cipher.auth_tag = sealed.byteslice(-TAG_LENGTH, TAG_LENGTH)
      cipher.auth_data = self.class.additional_data(target, method_name)
      (cipher.update(sealed.byteslice(0, sealed.bytesize - TAG_LENGTH)) + cipher.final).force_encoding(Encoding::UTF_8)
    rescue OpenSSL::Cipher::CipherError
      raise ArgumentsError, "encryptor '#{encryptor}': authentication failed (wrong key, or the row was altered)"
    rescue JSON::ParserError, KeyError, ArgumentError
      raise ArgumentsError, "encryptor '#{encryptor}': method_args is not a valid envelope"
    end
  end
end
