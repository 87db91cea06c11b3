declare module 'switchyard:plugin/mail@0.2.2' {
  /**
   * Hand `message` to the relay. `ok` means the host accepted it for
   * delivery: it is sent in the background, as the host's own e-mail
   * is, so a slow relay never eats the invocation's time budget.
   */
  export function send(message: MailMessage): void;
  /**
   * One plain-text message.
   */
  export interface MailMessage {
    /**
     * Recipients, each a bare address (`ops@example.com`), 1 to 10.
     */
    to: Array<string>,
    /**
     * One line, at most 200 bytes.
     */
    subject: string,
    /**
     * Plain text, at most 64 KiB.
     */
    body: string,
  }
  /**
   * Why a message was not sent.
   */
  export type MailError = MailErrorNotConfigured | MailErrorRateLimited | MailErrorInvalid | MailErrorFailed;
  /**
   * The operator configured no relay: this host sends no e-mail.
   */
  export interface MailErrorNotConfigured {
    tag: 'not-configured',
  }
  /**
   * The tenant's hourly e-mail limit is reached, or this invocation
   * already sent its 5 messages.
   */
  export interface MailErrorRateLimited {
    tag: 'rate-limited',
  }
  /**
   * The message breaks a rule above; the text says which (and names
   * the address that is not one).
   */
  export interface MailErrorInvalid {
    tag: 'invalid',
    val: string,
  }
  /**
   * The relay refused the message or could not take it.
   */
  export interface MailErrorFailed {
    tag: 'failed',
    val: string,
  }
}
